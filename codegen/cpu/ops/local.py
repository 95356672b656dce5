"""CPU: locally-connected layers (a convolution without weight sharing, 2-D
with height 1 for 1-D): opcode, kernel, step and lowering."""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen import windows
from layerc.codegen.codes import ACT
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.kernels import JIT, activate
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import opcode, runs, scratch, touches, weights, window
from layerc.ir import Node, OpKind

LOCAL = opcode("local", f"x w b y scratch {windows.WINDOW_FIELDS} act")
_L = LOCAL.cols


@touches(LOCAL)
def _local_touches(r):
    positions = r.oh * r.ow
    return (window(r) + weights(r, "w", positions * r.kh * r.kw * r.c * r.f)
            + weights(r, "b", positions * r.f) + scratch(r))


@njit(**JIT)
def local(x, wk, bias, has_bias, y, scratch, batch, h, w, c, oh, ow, f, kh, kw, sh, sw,
          channels_first, act):
    """Locally connected: per output position, patches (B, K) x its own (K, F)."""
    k = kh * kw * c
    positions = oh * ow
    col = scratch[: batch * k].reshape((batch, k))
    part = scratch[batch * k: batch * (k + f)].reshape((batch, f))
    for i in range(oh):
        for j in range(ow):
            p = i * ow + j
            for b in range(batch):
                for r in range(kh):
                    for q in range(kw):
                        cell = col[b, (r * kw + q) * c: (r * kw + q + 1) * c]
                        yy, zz = i * sh + r, j * sw + q
                        if channels_first:
                            for ch in range(c):
                                cell[ch] = x[((b * c + ch) * h + yy) * w + zz]
                        else:
                            start = ((b * h + yy) * w + zz) * c
                            cell[:] = x[start: start + c]
            np.dot(col, wk[p * k * f: (p + 1) * k * f].reshape((k, f)), part)
            for b in range(batch):
                for ch in range(f):
                    v = part[b, ch] + (bias[p * f + ch] if has_bias else 0.0)
                    if channels_first:
                        y[(b * f + ch) * positions + p] = v
                    else:
                        y[(b * positions + p) * f + ch] = v
    if act != ACT.linear:
        last = ow if channels_first else f
        flat = y.reshape((y.size // last, last))
        activate(flat, flat, act)


@runs(LOCAL)
@njit(**JIT)
def run_local(r, weights, arena, state, batch):
    h, w, c, oh, ow, f = r[_L.h], r[_L.w_], r[_L.c], r[_L.oh], r[_L.ow], r[_L.f]
    kh, kw = r[_L.kh], r[_L.kw]
    k = kh * kw * c
    positions = oh * ow
    b = max(r[_L.b], 0)
    local(arena[r[_L.x] * batch: (r[_L.x] + h * w * c) * batch],
          weights[r[_L.w]: r[_L.w] + positions * k * f], weights[b: b + positions * f],
          r[_L.b] >= 0, arena[r[_L.y] * batch: (r[_L.y] + oh * ow * f) * batch],
          arena[r[_L.scratch] * batch:], batch, h, w, c, oh, ow, f, kh, kw, r[_L.sh],
          r[_L.sw], r[_L.first] == 1, r[_L.act])


@lowers(OpKind.LOCAL)
def lower_local(e: Emitter, node: Node) -> None:
    kernel = e.weight(node.weights[0])
    operands = windows.weighted_window_operands(e, node, kernel)
    scratch = e.scratch(operands["kh"] * operands["kw"] * operands["c"] + operands["f"])
    e.instr(LOCAL, node, **operands, scratch=scratch)
