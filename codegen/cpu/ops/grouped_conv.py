"""CPU: a convolution of several groups (Keras's `groups`; a depthwise
convolution is one group per input channel), both data formats, 1-D as 2-D
of height 1, 2-D as 3-D of depth 1: a direct kernel, rows of outputs split
over the threads. Each output accumulates its group's channels over the window in float32 with the
bias, then the activation; neighbouring outputs of a channels-last row are
neighbouring filters, read from adjacent kernel columns, which vectorizes.
A channels-last 2-D depthwise convolution with depth_multiplier 1 (one
filter per channel: MobileNet's, Xception's, EfficientNet's) has a
vectorized kernel of its own (depthwise_rows). Reached through lower_conv
(conv.py) for the specialize-padding pass's `grouped` variant."""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen import windows
from layerc.codegen.codes import ACT
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu import team
from layerc.codegen.cpu.kernels import FAST_JIT, JIT, activate, plain
from layerc.codegen.cpu.opcodes import need, opcode, runs, touches, weights, window
from layerc.codegen.cpu.simd import WIDTH, vfma, vload, vstore, vzero
from layerc.ir import Node

GROUPED = opcode("grouped_conv", f"x w b y {windows.WINDOW_FIELDS} {windows.DEPTH_FIELDS} "
                 "groups act")
_G = GROUPED.cols


@touches(GROUPED)
def _grouped_touches(r):
    need(r.groups >= 1 and r.c % r.groups == 0 and r.f % r.groups == 0,
         f"{r.c} channels into {r.f} filters in {r.groups} groups")
    return window(r) + weights(r, "w") + weights(r, "b")
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


@njit(**FAST_JIT)
def _split(x, y, wt, w0, b0, rows, d, h, w, c, od, oh, ow, f, kd, kh, kw, sd, sh, sw, dd, dh, dw,
           pf, pt, pl, first, groups, chunks):
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        grouped_rows(x, y, wt, w0, b0, ci * rows // chunks, (ci + 1) * rows // chunks, d, h, w,
                     c, od, oh, ow, f, kd, kh, kw, sd, sh, sw, dd, dh, dw, pf, pt, pl, first,
                     groups)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@njit(**FAST_JIT)
def _span(o, stride, pad, dilation, taps, size):
    """The taps t (lo..hi) whose input o * stride - pad + t * dilation lies
    in 0..size."""
    first = o * stride - pad
    lo, hi = 0, taps
    while lo < taps and first + lo * dilation < 0:
        lo += 1
    while hi > lo and first + (hi - 1) * dilation >= size:
        hi -= 1
    return lo, hi


@njit(**FAST_JIT)
def _pixel(x, y, wt, w0, b0, at, src0, r0, r1, q0, q1, c, kw, rstep, qstep, whole):
    """y[at:at + c] = one pixel's depthwise sums over taps r0..r1 x q0..q1,
    a vector of channels at a time in a register, the channels past the
    last whole vector one by one."""
    for ch in range(0, whole, WIDTH):
        acc = vload(wt, b0 + ch) if b0 >= 0 else vzero()
        for r in range(r0, r1):
            src = src0 + r * rstep + ch
            tap = w0 + r * kw * c + ch
            for q in range(q0, q1):
                acc = vfma(vload(x, src + q * qstep), vload(wt, tap + q * c), acc)
        vstore(y, at + ch, acc)
    _tail(x, y, wt, w0, b0, at, src0, r0, r1, q0, q1, c, kw, rstep, qstep, whole)


@njit(**FAST_JIT)
def _tail(x, y, wt, w0, b0, at, src0, r0, r1, q0, q1, c, kw, rstep, qstep, whole):
    """_pixel's channels from `whole` on, one by one."""
    for ch in range(whole, c):
        v = wt[b0 + ch] if b0 >= 0 else np.float32(0.0)
        for r in range(r0, r1):
            for q in range(q0, q1):
                v += x[src0 + r * rstep + q * qstep + ch] * wt[w0 + (r * kw + q) * c + ch]
        y[at + ch] = v


@njit(**FAST_JIT)
def _four(x, y, wt, w0, b0, at, src0, r0, r1, c, kw, rstep, qstep, pstep, whole):
    """_pixel for four neighbouring pixels whose windows lie inside across:
    each tap's weights loaded once for the four."""
    for ch in range(0, whole, WIDTH):
        a0 = vload(wt, b0 + ch) if b0 >= 0 else vzero()
        a1, a2, a3 = a0, a0, a0
        for r in range(r0, r1):
            src = src0 + r * rstep + ch
            tap = w0 + r * kw * c + ch
            for q in range(kw):
                wv = vload(wt, tap + q * c)
                s = src + q * qstep
                a0 = vfma(vload(x, s), wv, a0)
                a1 = vfma(vload(x, s + pstep), wv, a1)
                a2 = vfma(vload(x, s + 2 * pstep), wv, a2)
                a3 = vfma(vload(x, s + 3 * pstep), wv, a3)
        vstore(y, at + ch, a0)
        vstore(y, at + c + ch, a1)
        vstore(y, at + 2 * c + ch, a2)
        vstore(y, at + 3 * c + ch, a3)
    for k in range(4 if whole < c else 0):
        _tail(x, y, wt, w0, b0, at + k * c, src0 + k * pstep, r0, r1, 0, kw, c, kw, rstep,
              qstep, whole)


@plain
@njit(**FAST_JIT)
def depthwise_rows(x, y, wt, w0, b0, lo, hi, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl,
                   act, base):
    """Output rows lo..hi of a channels-last 2-D convolution of one filter
    per channel (a depthwise one, depth_multiplier 1), then the activation
    over each row; output row `base` at y[0]. The kernel (kh, kw, 1, c) gives each tap's channels as
    one vector. Pixels whose windows lie inside across go four at a time
    (_four), the others one by one with the taps in the padding left out of
    the loops (_pixel). The generic kernel's per-output channel division
    kept it scalar: 32x32x64 by 3x3 ('same') at batch 16, one thread, 54 ms
    -> 3.1 ms with one pixel at a time -> 1.34 ms (ONNX Runtime, two
    threads: ~0.9-1.5 ms)."""
    whole = c - c % WIDTH
    lo_x = 0  # the output columns lo_x..hi_x have their windows inside across
    while lo_x < ow and lo_x * sw - pl < 0:
        lo_x += 1
    hi_x = ow
    while hi_x > lo_x and (hi_x - 1) * sw - pl + (kw - 1) * dw >= w:
        hi_x -= 1
    rstep, qstep, pstep = dh * w * c, dw * c, sw * c
    for row in range(lo, hi):
        n, oy = row // oh, row % oh
        r0, r1 = _span(oy, sh, pt, dh, kh, h)
        top = (n * h + oy * sh - pt) * w
        out = (row - base) * ow * c
        ox = 0
        while ox < ow:
            src0 = (top + ox * sw - pl) * c
            if lo_x <= ox and ox + 4 <= hi_x:
                _four(x, y, wt, w0, b0, out + ox * c, src0, r0, r1, c, kw, rstep, qstep, pstep,
                      whole)
                ox += 4
            else:
                q0, q1 = _span(ox, sw, pl, dw, kw, w)
                _pixel(x, y, wt, w0, b0, out + ox * c, src0, r0, r1, q0, q1, c, kw, rstep,
                       qstep, whole)
                ox += 1
        if act != ACT.linear:
            line = y[out: out + ow * c].reshape((ow, c))
            activate(line, line, act)


@njit(**FAST_JIT)
def _split_depthwise(x, y, wt, w0, b0, rows, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl,
                     act, chunks):
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        depthwise_rows(x, y, wt, w0, b0, ci * rows // chunks, (ci + 1) * rows // chunks, h, w,
                       c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, act, 0)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@runs(GROUPED)
@njit(**JIT)
def run_grouped_conv(r, weights, arena, state, batch):
    d, h, w, c = r[_G.d_], r[_G.h], r[_G.w_], r[_G.c]
    od, oh, ow, f = r[_G.od], r[_G.oh], r[_G.ow], r[_G.f]
    x = arena[r[_G.x] * batch: (r[_G.x] + d * h * w * c) * batch]
    y = arena[r[_G.y] * batch: (r[_G.y] + od * oh * ow * f) * batch]
    rows = batch * od * oh
    chunks = min(rows, 4 * team.size()) if y.size >= SERIAL_VALUES else 1
    if r[_G.first] == 0 and r[_G.groups] == c == f and d == 1 and r[_G.kd] == 1:
        window = (h, w, c, oh, ow, r[_G.kh], r[_G.kw], r[_G.sh], r[_G.sw], r[_G.dh], r[_G.dw],
                 r[_G.pt], r[_G.pl], r[_G.act])
        if chunks > 1:
            _split_depthwise(x, y, weights, r[_G.w], r[_G.b], rows, *window, chunks)
        elif team.lead():
            depthwise_rows(x, y, weights, r[_G.w], r[_G.b], 0, rows, *window, 0)
        return
    args = (d, h, w, c, od, oh, ow, f, r[_G.kd], r[_G.kh], r[_G.kw], r[_G.sd], r[_G.sh],
            r[_G.sw], r[_G.dd], r[_G.dh], r[_G.dw], r[_G.pf], r[_G.pt], r[_G.pl], r[_G.first],
            r[_G.groups])
    if chunks > 1:
        _split(x, y, weights, r[_G.w], r[_G.b], rows, *args, chunks)
    elif team.lead():
        grouped_rows(x, y, weights, r[_G.w], r[_G.b], 0, rows, *args)
    if r[_G.act] != ACT.linear and team.lead():
        row = ow if r[_G.first] else f
        out = y.reshape((y.size // row, row))
        activate(out, out, r[_G.act])


def lower_grouped(e: Emitter, node: Node) -> None:
    """The kernel stays as Keras stores it, (*kernel, channels / groups, filters)."""
    operands = windows.weighted_window_operands(e, node, e.weight(node.weights[0]),
                                                 depth=True)
    e.instr(GROUPED, node, **operands, groups=node.attrs.groups)
