"""CPU: image resizing (ir/ops/resize.py), one step: each output pixel sums
taps x taps input pixels weighted by the per-axis tables the shared lowering
stores as constants (index -1: the fill value); rows of outputs are split
over layerc's threads. Channels-last pixels accumulate all channels at once
(a contiguous run)."""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen.cpu import team
from layerc.codegen.cpu.kernels import FAST_JIT, JIT
from layerc.codegen.cpu.opcodes import arena, opcode, runs, touches, weights

RESIZE = opcode("image_resize", "x y h w_ c oh ow taps ri rw ci cw fill first")
_R = RESIZE.cols


@touches(RESIZE)
def _resize_touches(r):
    return (arena(r, "x", r.h * r.w_ * r.c) + arena(r, "y", r.oh * r.ow * r.c)
            + weights(r, "ri", r.oh * r.taps) + weights(r, "rw", r.oh * r.taps)
            + weights(r, "ci", r.ow * r.taps) + weights(r, "cw", r.ow * r.taps)
            + weights(r, "fill", 1))
SERIAL_VALUES = 1 << 14  # outputs below which one thread runs the whole step


@njit(**FAST_JIT)
def _rows(r, weights, arena, batch, lo, hi):
    """Output rows lo..hi (a row: one sample's one output line)."""
    h, w, c, oh, ow, taps = r[_R.h], r[_R.w_], r[_R.c], r[_R.oh], r[_R.ow], r[_R.taps]
    x0, y0, ri, rw, ci, cw = r[_R.x] * batch, r[_R.y] * batch, r[_R.ri], r[_R.rw], r[_R.ci], \
        r[_R.cw]
    fill, first = weights[r[_R.fill]], r[_R.first]
    acc = np.empty(c, np.float32)
    for row in range(lo, hi):
        n, oy = row // oh, row % oh
        for ox in range(ow):
            acc[:] = 0.0
            for ty in range(taps):
                iy = np.int64(weights[ri + oy * taps + ty])
                wy = weights[rw + oy * taps + ty]
                for tx in range(taps):
                    ix = np.int64(weights[ci + ox * taps + tx])
                    wt = wy * weights[cw + ox * taps + tx]
                    if iy < 0 or ix < 0:
                        for ch in range(c):
                            acc[ch] += wt * fill
                    elif first:
                        for ch in range(c):
                            acc[ch] += wt * arena[x0 + ((n * c + ch) * h + iy) * w + ix]
                    else:
                        at = x0 + ((n * h + iy) * w + ix) * c
                        for ch in range(c):
                            acc[ch] += wt * arena[at + ch]
            for ch in range(c):
                if first:
                    arena[y0 + ((n * c + ch) * oh + oy) * ow + ox] = acc[ch]
                else:
                    arena[y0 + ((n * oh + oy) * ow + ox) * c + ch] = acc[ch]


@njit(**FAST_JIT)
def _split(r, weights, arena, batch, rows, chunks):
    role = team.open_region(chunks)
    k = team.grab(role, chunks, -1)
    while k >= 0:
        _rows(r, weights, arena, batch, k * rows // chunks, (k + 1) * rows // chunks)
        k = team.grab(role, chunks, k)
    team.close(role, chunks)


@runs(RESIZE)
@njit(**JIT)
def run_image_resize(r, weights, arena, state, batch):
    rows = batch * r[_R.oh]
    chunks = min(rows, 4 * team.size())
    if chunks > 1 and rows * r[_R.ow] * r[_R.c] >= SERIAL_VALUES:
        _split(r, weights, arena, batch, rows, chunks)
    elif team.lead():
        _rows(r, weights, arena, batch, 0, rows)
