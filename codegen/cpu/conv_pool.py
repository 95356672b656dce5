"""A channels-last convolution and the max pooling that reads it, in one
step (fusion.py decides when): the pooled output is cut into bands, each
the pooling windows of a few pooled rows (or part of one) of one sample; a
thread computes a band's convolution into a buffer of its own with the
implicit GEMM (gemm.py: the band is a convolution of its own, the image
seen from the band's corner) and pools it from there into the output. The
convolution's full output is never written.

conv 28x28x1 -> 3x3x32 + ReLU + 2x2 max pooling, two threads: 21.0 -> 16.9
us at batch 1, 785 -> 629 us at batch 64 (best of 6 alternating runs).
Bands of several pooled rows instead of one, one thread, batch 64: 1076 ->
981 us (best of 15 alternating runs, 2026-11-29).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from layerc.codegen.cpu import team
from layerc.codegen.cpu.gemm import MR, NR, _tiles, chunks_for
from layerc.codegen.cpu.kernels import FAST_JIT
from layerc.codegen.cpu.simd import WIDTH, vload, vmax, vstore

# A band's convolution at most this many floats (64 KB: it stays in L2
# while it is pooled). Whole pooled rows per band, not one: the MNIST
# convnet's first convolution spent a third of its time starting bands.
BAND_FLOATS = 16 * 1024


@njit(**FAST_JIT)
def _bands(lo, hi, rows, groups, cols, nblk, src, x0, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl,
           zero, weights, w0, b0, relu, out, y0, f, ph, pw, ohp, owp, band, offs):
    """Bands lo..hi: band u is sample u // (groups * nblk), pooled rows from
    ((u // nblk) % groups) * rows, `rows` of them (the last group fewer),
    pooled columns from (u % nblk) * cols, `cols` of them (the last block
    fewer)."""
    for u in range(lo, hi):
        b, g, blk = u // (groups * nblk), (u // nblk) % groups, u % nblk
        p0, j0 = g * rows, blk * cols
        height = min(rows, ohp - p0) * ph  # the band's convolution rows
        width = min(cols, owp - j0) * pw  # and columns
        tiles = -(-(height * width) // MR) * -(-f // NR)
        _tiles(0, tiles, src, x0 + b * h * w * c, 1, h, w, c, height, width, kh, kw, sh, sw,
               dh, dw, pt - p0 * ph * sh, pl - j0 * pw * sw, zero, weights, w0, b0, relu, band,
               0, f, offs)
        for r in range(height // ph):
            _pool(band, r * ph * width * f, width, out,
                  y0 + ((b * ohp + p0 + r) * owp + j0) * f, f, ph, pw)


@njit(**FAST_JIT)
def _pool(band, at0, width, out, at, f, ph, pw):
    """out[at:] = the ph x pw max pooling of band[at0:], ph rows of `width`
    pixels of f channels, a vector of channels at a time (NaN wins, as in
    the pooling's own kernel: ops/pool.py), the channels past the last whole
    vector one by one."""
    whole = f - f % WIDTH
    for pj in range(width // pw):
        for ch in range(0, whole, WIDTH):
            acc = vload(band, at0 + pj * pw * f + ch)
            for r in range(ph):
                for q in range(pw):
                    acc = vmax(acc, vload(band, at0 + (r * width + pj * pw + q) * f + ch))
            vstore(out, at + pj * f + ch, acc)
        for ch in range(whole, f):
            acc = band[at0 + pj * pw * f + ch]
            for r in range(ph):
                for q in range(pw):
                    v = band[at0 + (r * width + pj * pw + q) * f + ch]
                    if v > acc or math.isnan(v):
                        acc = v
            out[at + pj * f + ch] = acc


@njit(**FAST_JIT)
def _split(units, chunks, rows, groups, cols, nblk, src, x0, h, w, c, kh, kw, sh, sw, dh, dw,
           pt, pl, zero, weights, w0, b0, relu, out, y0, f, ph, pw, ohp, owp):
    """The bands in `chunks` chunks, a team region (team.py)."""
    role = team.open_region(chunks)
    band = np.empty(rows * ph * cols * pw * f, np.float32)
    offs = np.empty(kh * kw * MR, np.int64)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        _bands(ci * units // chunks, (ci + 1) * units // chunks, rows, groups, cols, nblk, src,
               x0, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, zero, weights, w0, b0, relu, out, y0,
               f, ph, pw, ohp, owp, band, offs)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@njit(**FAST_JIT)
def conv_max_pool(src, x0, batch, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, zero, weights, w0,
                  b0, relu, out, y0, f, ph, pw, ohp, owp):
    """out[y0:] (batch, ohp, owp, f) = the ph x pw max pooling (strides ph,
    pw; no padding) of `gemm`'s convolution (the same operands, but only its
    first ohp * ph rows and owp * pw columns are computed). A band holds as
    many whole pooled rows as BAND_FLOATS allow; with fewer bands than the
    team region wants (`chunks_for`; batch 1), fewer rows, down to one, then
    blocks of a row (a 1-D layer at batch 1), so every thread has work."""
    want = chunks_for(ohp * owp * batch, 2 * batch * ohp * ph * owp * pw * kh * kw * c * f)
    rows = max(1, min(ohp, BAND_FLOATS // (ph * owp * pw * f)))
    groups = -(-ohp // rows)
    if batch * groups < want:
        groups = min(ohp, -(-want // batch))
    rows = -(-ohp // groups)
    groups = -(-ohp // rows)
    nblk = min(owp, -(-want // (batch * groups)))
    cols = -(-owp // nblk)
    nblk = -(-owp // cols)
    units = batch * groups * nblk
    _split(units, min(units, want), rows, groups, cols, nblk, src, x0, h, w, c, kh, kw, sh, sw,
           dh, dw, pt, pl, zero, weights, w0, b0, relu, out, y0, f, ph, pw, ohp, owp)
