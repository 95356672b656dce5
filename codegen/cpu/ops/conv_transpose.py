"""CPU: the transposed convolution (1-D as 2-D of height 1, both data
formats): each output gathers the input positions and taps that scatter
onto it (i * s + t * d = o + crop), a direct kernel with rows of outputs
split over the threads; per tap a dot product over the channels, which
vectorizes (Keras's kernel (kh, kw, filters, channels) keeps the channels
innermost)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from layerc.codegen import lowering
from layerc.codegen.codes import ACT
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.kernels import FAST_JIT, JIT, PARALLEL_JIT, activate
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import opcode, runs
from layerc.codegen.cpu.threads import pool_size
from layerc.ir import Node, OpKind

TRANSPOSED = opcode("conv_transpose", f"x w b y {lowering.WINDOW_FIELDS} act")
_T = TRANSPOSED.cols
SERIAL_VALUES = 1 << 14  # outputs below which one thread runs the whole step


@njit(**FAST_JIT)
def transposed_rows(x, y, wt, w0, b0, lo, hi, h, w, c, oh, ow, f, kh, kw, sh, sw, dh, dw, ct,
                    cl, first):
    """Output rows lo..hi (one sample's one output line, all filters); ct, cl:
    the crops (top, left)."""
    line = np.empty(f, np.float32)
    for row in range(lo, hi):
        n, oy = row // oh, row % oh
        for ox in range(ow):
            for o in range(f):
                line[o] = wt[b0 + o] if b0 >= 0 else 0.0
            for r in range(kh):
                ty = oy + ct - r * dh
                if ty < 0 or ty % sh != 0 or ty // sh >= h:
                    continue
                iy = ty // sh
                for q in range(kw):
                    tx = ox + cl - q * dw
                    if tx < 0 or tx % sw != 0 or tx // sw >= w:
                        continue
                    ix = tx // sw
                    tap = w0 + (r * kw + q) * f * c
                    for o in range(f):
                        acc = np.float32(0.0)
                        for ch in range(c):
                            v = x[((n * c + ch) * h + iy) * w + ix] if first else \
                                x[((n * h + iy) * w + ix) * c + ch]
                            acc += v * wt[tap + o * c + ch]
                        line[o] += acc
            for o in range(f):
                if first:
                    y[((n * f + o) * oh + oy) * ow + ox] = line[o]
                else:
                    y[((n * oh + oy) * ow + ox) * f + o] = line[o]


@njit(**PARALLEL_JIT)
def _split(x, y, wt, w0, b0, rows, h, w, c, oh, ow, f, kh, kw, sh, sw, dh, dw, ct, cl, first,
           chunks):
    for ci in prange(chunks):
        transposed_rows(x, y, wt, w0, b0, ci * rows // chunks, (ci + 1) * rows // chunks, h, w,
                        c, oh, ow, f, kh, kw, sh, sw, dh, dw, ct, cl, first)


@runs(TRANSPOSED)
@njit(**JIT)
def run_conv_transpose(r, weights, arena, state, batch):
    h, w, c, oh, ow, f = r[_T.h], r[_T.w_], r[_T.c], r[_T.oh], r[_T.ow], r[_T.f]
    x = arena[r[_T.x] * batch: (r[_T.x] + h * w * c) * batch]
    y = arena[r[_T.y] * batch: (r[_T.y] + oh * ow * f) * batch]
    rows = batch * oh
    args = (h, w, c, oh, ow, f, r[_T.kh], r[_T.kw], r[_T.sh], r[_T.sw], r[_T.dh], r[_T.dw],
            r[_T.pt], r[_T.pl], r[_T.first])
    chunks = min(rows, 4 * pool_size())
    if chunks > 1 and y.size >= SERIAL_VALUES:
        _split(x, y, weights, r[_T.w], r[_T.b], rows, *args, chunks)
    else:
        transposed_rows(x, y, weights, r[_T.w], r[_T.b], 0, rows, *args)
    if r[_T.act] != ACT.linear:
        row = ow if r[_T.first] else f
        out = y.reshape((y.size // row, row))
        activate(out, out, r[_T.act])


@lowers(OpKind.CONV_TRANSPOSE)
def lower_conv_transpose(e: Emitter, node: Node) -> None:
    """The kernel stays as Keras stores it, (kh, kw, filters, channels)."""
    e.instr(TRANSPOSED, node, **lowering.transpose_operands(e, node))
