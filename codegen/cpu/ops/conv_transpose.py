"""CPU: the transposed convolution (1-D as 2-D of height 1, 2-D as 3-D of
depth 1, both data formats): each output gathers the input positions and
taps that scatter onto it (i * s + t * d = o + crop), a direct kernel with
rows of outputs split over the threads; per tap a dot product over the
channels, which vectorizes (Keras's kernel (kd, kh, kw, filters, channels)
keeps the channels innermost)."""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen import windows
from layerc.codegen.codes import ACT
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu import team
from layerc.codegen.cpu.kernels import FAST_JIT, JIT, activate
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import opcode, runs, touches, weights, window
from layerc.ir import Node, OpKind

TRANSPOSED = opcode("conv_transpose",
                    f"x w b y {windows.WINDOW_FIELDS} {windows.DEPTH_FIELDS} act")
_T = TRANSPOSED.cols


@touches(TRANSPOSED)
def _transposed_touches(r):
    return window(r) + weights(r, "w") + weights(r, "b")
SERIAL_VALUES = 1 << 14  # outputs below which one thread runs the whole step


@njit(**FAST_JIT)
def transposed_rows(x, y, wt, w0, b0, lo, hi, d, h, w, c, od, oh, ow, f, kd, kh, kw, sd, sh, sw,
                    dd, dh, dw, cf, ct, cl, first):
    """Output rows lo..hi (a row: one sample's one output line, all filters;
    a 3-D output has od * oh rows per sample, a 2-D one od = 1); cf, ct, cl:
    the crops (front, top, left)."""
    line = np.empty(f, np.float32)
    for row in range(lo, hi):
        n, oy = row // (od * oh), row % (od * oh)
        oz, oy = oy // oh, oy % oh
        for ox in range(ow):
            for o in range(f):
                line[o] = wt[b0 + o] if b0 >= 0 else 0.0
            for rd in range(kd):
                tz = oz + cf - rd * dd
                if tz < 0 or tz % sd != 0 or tz // sd >= d:
                    continue
                for r in range(kh):
                    ty = oy + ct - r * dh
                    if ty < 0 or ty % sh != 0 or ty // sh >= h:
                        continue
                    iy = (tz // sd) * h + ty // sh  # of the sample's d * h input rows
                    _taps(x, wt, line, w0 + (rd * kh + r) * kw * f * c, n, iy,
                          (n * d * h + iy) * w, d * h, ox, w, c, f, kw, sw, dw, cl, first)
            for o in range(f):
                if first:
                    y[(((n * f + o) * od + oz) * oh + oy) * ow + ox] = line[o]
                else:
                    y[(((n * od + oz) * oh + oy) * ow + ox) * f + o] = line[o]


@njit(**FAST_JIT)
def _taps(x, wt, line, tap0, n, iy, pixel0, rows, ox, w, c, f, kw, sw, dw, cl, first):
    """line += the kw taps of input row iy (of the rows = d * h) of sample n;
    pixel0: that row's first pixel, channels last. The two formats index as
    measured best: this form keeps a 2-D layer within ~8 % of the kernel
    before the depth axis, where passing the channel planes' offset in made
    channels first (c = 64) 34 % slower."""
    for q in range(kw):
        tx = ox + cl - q * dw
        if tx < 0 or tx % sw != 0 or tx // sw >= w:
            continue
        ix = tx // sw
        tap = tap0 + q * f * c
        for o in range(f):
            acc = np.float32(0.0)
            for ch in range(c):
                v = x[((n * c + ch) * rows + iy) * w + ix] if first else \
                    x[(pixel0 + ix) * c + ch]
                acc += v * wt[tap + o * c + ch]
            line[o] += acc


@njit(**FAST_JIT)
def _split(x, y, wt, w0, b0, rows, d, h, w, c, od, oh, ow, f, kd, kh, kw, sd, sh, sw, dd, dh, dw,
           cf, ct, cl, first, chunks):
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        transposed_rows(x, y, wt, w0, b0, ci * rows // chunks, (ci + 1) * rows // chunks, d, h,
                        w, c, od, oh, ow, f, kd, kh, kw, sd, sh, sw, dd, dh, dw, cf, ct, cl,
                        first)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@runs(TRANSPOSED)
@njit(**JIT)
def run_conv_transpose(r, weights, arena, state, batch):
    d, h, w, c = r[_T.d_], r[_T.h], r[_T.w_], r[_T.c]
    od, oh, ow, f = r[_T.od], r[_T.oh], r[_T.ow], r[_T.f]
    x = arena[r[_T.x] * batch: (r[_T.x] + d * h * w * c) * batch]
    y = arena[r[_T.y] * batch: (r[_T.y] + od * oh * ow * f) * batch]
    rows = batch * od * oh
    args = (d, h, w, c, od, oh, ow, f, r[_T.kd], r[_T.kh], r[_T.kw], r[_T.sd], r[_T.sh],
            r[_T.sw], r[_T.dd], r[_T.dh], r[_T.dw], r[_T.pf], r[_T.pt], r[_T.pl], r[_T.first])
    chunks = min(rows, 4 * team.size())
    if chunks > 1 and y.size >= SERIAL_VALUES:
        _split(x, y, weights, r[_T.w], r[_T.b], rows, *args, chunks)
    elif team.lead():
        transposed_rows(x, y, weights, r[_T.w], r[_T.b], 0, rows, *args)
    if r[_T.act] != ACT.linear and team.lead():
        row = ow if r[_T.first] else f
        out = y.reshape((y.size // row, row))
        activate(out, out, r[_T.act])


@lowers(OpKind.CONV_TRANSPOSE)
def lower_conv_transpose(e: Emitter, node: Node) -> None:
    """The kernel stays as Keras stores it, (kd, kh, kw, filters, channels)."""
    e.instr(TRANSPOSED, node, **windows.transpose_operands(e, node))
