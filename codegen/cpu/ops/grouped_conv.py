"""CPU: a convolution of several groups (Keras's `groups`; a depthwise
convolution is one group per input channel), both data formats, 1-D as 2-D
of height 1: a direct kernel, rows of outputs split over the threads. Each
output accumulates its group's channels over the window in float32 with the
bias, then the activation; neighbouring outputs of a channels-last row are
neighbouring filters, read from adjacent kernel columns, which vectorizes.
Reached through lower_conv (conv.py) for the specialize-padding pass's
`grouped` variant."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from layerc.codegen import lowering
from layerc.codegen.codes import ACT
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.kernels import JIT, PARALLEL_JIT, activate
from layerc.codegen.cpu.opcodes import opcode, runs
from layerc.codegen.cpu.threads import pool_size
from layerc.ir import Node

GROUPED = opcode("grouped_conv", f"x w b y {lowering.WINDOW_FIELDS} groups act")
_G = GROUPED.cols
SERIAL_VALUES = 1 << 14  # outputs below which one thread runs the whole step


@njit(**JIT)
def grouped_rows(x, y, wt, w0, b0, lo, hi, h, w, c, oh, ow, f, kh, kw, sh, sw, dh, dw, pt,
                 pl, first, groups):
    """Output rows lo..hi (a row: one sample's one output line, all filters)."""
    cg, fg = c // groups, f // groups
    line = np.empty(f, np.float32)
    for row in range(lo, hi):
        n, oy = row // oh, row % oh
        for ox in range(ow):
            for o in range(f):
                line[o] = wt[b0 + o] if b0 >= 0 else 0.0
            for r in range(kh):
                iy = oy * sh - pt + r * dh
                if iy < 0 or iy >= h:
                    continue
                for q in range(kw):
                    ix = ox * sw - pl + q * dw
                    if ix < 0 or ix >= w:
                        continue
                    tap = w0 + (r * kw + q) * cg * f
                    for o in range(f):
                        base = (o // fg) * cg
                        for k in range(cg):
                            ch = base + k
                            v = x[((n * c + ch) * h + iy) * w + ix] if first else \
                                x[((n * h + iy) * w + ix) * c + ch]
                            line[o] += v * wt[tap + k * f + o]
            for o in range(f):
                if first:
                    y[((n * f + o) * oh + oy) * ow + ox] = line[o]
                else:
                    y[((n * oh + oy) * ow + ox) * f + o] = line[o]


@njit(**PARALLEL_JIT)
def _split(x, y, wt, w0, b0, rows, h, w, c, oh, ow, f, kh, kw, sh, sw, dh, dw, pt, pl, first,
           groups, chunks):
    for ci in prange(chunks):
        grouped_rows(x, y, wt, w0, b0, ci * rows // chunks, (ci + 1) * rows // chunks, h, w, c,
                     oh, ow, f, kh, kw, sh, sw, dh, dw, pt, pl, first, groups)


@runs(GROUPED)
@njit(**JIT)
def run_grouped_conv(r, weights, arena, state, batch):
    h, w, c, oh, ow, f = r[_G.h], r[_G.w_], r[_G.c], r[_G.oh], r[_G.ow], r[_G.f]
    x = arena[r[_G.x] * batch: (r[_G.x] + h * w * c) * batch]
    y = arena[r[_G.y] * batch: (r[_G.y] + oh * ow * f) * batch]
    rows = batch * oh
    args = (h, w, c, oh, ow, f, r[_G.kh], r[_G.kw], r[_G.sh], r[_G.sw], r[_G.dh], r[_G.dw],
            r[_G.pt], r[_G.pl], r[_G.first], r[_G.groups])
    chunks = min(rows, 4 * pool_size())
    if chunks > 1 and y.size >= SERIAL_VALUES:
        _split(x, y, weights, r[_G.w], r[_G.b], rows, *args, chunks)
    else:
        grouped_rows(x, y, weights, r[_G.w], r[_G.b], 0, rows, *args)
    if r[_G.act] != ACT.linear:
        row = ow if r[_G.first] else f
        out = y.reshape((y.size // row, row))
        activate(out, out, r[_G.act])


def lower_grouped(e: Emitter, node: Node) -> None:
    """The kernel stays as Keras stores it, (kh, kw, channels / groups, filters)."""
    operands = lowering.weighted_window_operands(e, node, e.weight(node.weights[0]))
    e.instr(GROUPED, node, **operands, groups=node.attrs.groups)
