"""CPU: a convolution of several groups (Keras's `groups`; a depthwise
convolution is one group per input channel), both data formats, 1-D as 2-D
of height 1, 2-D as 3-D of depth 1: a direct kernel, rows of outputs split
over the threads. Each output accumulates its group's channels over the window in float32 with the
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

GROUPED = opcode("grouped_conv", f"x w b y {lowering.WINDOW_FIELDS} {lowering.DEPTH_FIELDS} "
                 "groups act")
_G = GROUPED.cols
SERIAL_VALUES = 1 << 14  # outputs below which one thread runs the whole step


@njit(**JIT)
def grouped_rows(x, y, wt, w0, b0, lo, hi, d, h, w, c, od, oh, ow, f, kd, kh, kw, sd, sh, sw, dd,
                 dh, dw, pf, pt, pl, first, groups):
    """Output rows lo..hi (a row: one sample's one output line, all filters;
    a 3-D output has od * oh rows per sample, a 2-D one od = 1)."""
    cg, fg = c // groups, f // groups
    line = np.empty(f, np.float32)
    for row in range(lo, hi):
        n, oy = row // (od * oh), row % (od * oh)
        oz, oy = oy // oh, oy % oh
        for ox in range(ow):
            for o in range(f):
                line[o] = wt[b0 + o] if b0 >= 0 else 0.0
            for rd in range(kd):
                iz = oz * sd - pf + rd * dd
                if iz < 0 or iz >= d:
                    continue
                for r in range(kh):
                    iy = oy * sh - pt + r * dh
                    if iy < 0 or iy >= h:
                        continue
                    _taps(x, wt, line, w0 + (rd * kh + r) * kw * cg * f,
                          (n * d + iz) * h + iy, ox, w, c, f, kw, sw, dw, pl, cg, fg, first,
                          (n * c * d + iz) * h + iy, d * h)
            for o in range(f):
                if first:
                    y[(((n * f + o) * od + oz) * oh + oy) * ow + ox] = line[o]
                else:
                    y[(((n * od + oz) * oh + oy) * ow + ox) * f + o] = line[o]


@njit(**JIT)
def _taps(x, wt, line, tap0, pixel_row, ox, w, c, f, kw, sw, dw, pl, cg, fg, first, plane_row,
          plane):
    """line += the kw taps of one input row: channels last, the row starting
    at pixel pixel_row * w; channels first, channel ch's row at
    (plane_row + ch * plane) * w."""
    for q in range(kw):
        ix = ox * sw - pl + q * dw
        if ix < 0 or ix >= w:
            continue
        tap = tap0 + q * cg * f
        for o in range(f):
            base = (o // fg) * cg
            for k in range(cg):
                ch = base + k
                v = x[(plane_row + ch * plane) * w + ix] if first else \
                    x[(pixel_row * w + ix) * c + ch]
                line[o] += v * wt[tap + k * f + o]


@njit(**PARALLEL_JIT)
def _split(x, y, wt, w0, b0, rows, d, h, w, c, od, oh, ow, f, kd, kh, kw, sd, sh, sw, dd, dh, dw,
           pf, pt, pl, first, groups, chunks):
    for ci in prange(chunks):
        grouped_rows(x, y, wt, w0, b0, ci * rows // chunks, (ci + 1) * rows // chunks, d, h, w,
                     c, od, oh, ow, f, kd, kh, kw, sd, sh, sw, dd, dh, dw, pf, pt, pl, first,
                     groups)


@runs(GROUPED)
@njit(**JIT)
def run_grouped_conv(r, weights, arena, state, batch):
    d, h, w, c = r[_G.d_], r[_G.h], r[_G.w_], r[_G.c]
    od, oh, ow, f = r[_G.od], r[_G.oh], r[_G.ow], r[_G.f]
    x = arena[r[_G.x] * batch: (r[_G.x] + d * h * w * c) * batch]
    y = arena[r[_G.y] * batch: (r[_G.y] + od * oh * ow * f) * batch]
    rows = batch * od * oh
    args = (d, h, w, c, od, oh, ow, f, r[_G.kd], r[_G.kh], r[_G.kw], r[_G.sd], r[_G.sh],
            r[_G.sw], r[_G.dd], r[_G.dh], r[_G.dw], r[_G.pf], r[_G.pt], r[_G.pl], r[_G.first],
            r[_G.groups])
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
    """The kernel stays as Keras stores it, (*kernel, channels / groups, filters)."""
    operands = lowering.weighted_window_operands(e, node, e.weight(node.weights[0]),
                                                 depth=True)
    e.instr(GROUPED, node, **operands, groups=node.attrs.groups)
