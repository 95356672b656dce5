"""A channels-last convolution and the max pooling that reads it, in one
step (fusion.py decides when): the pooled output is cut into bands, each
the pooling windows of one pooled row (or part of one) of one sample; a
thread computes a band's convolution into a buffer of its own with the
implicit GEMM (gemm.py: the band is a convolution of its own, the image
seen from the band's corner) and pools it from there into the output. The
convolution's full output is never written.

conv 28x28x1 -> 3x3x32 + ReLU + 2x2 max pooling, two threads: 21.0 -> 16.9
us at batch 1, 785 -> 629 us at batch 64 (best of 6 alternating runs).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from layerc.codegen.cpu.gemm import MR, NR, SERIAL_FLOPS, CHUNKS_PER_THREAD, _tiles
from layerc.codegen.cpu.kernels import FAST_JIT, PARALLEL_JIT
from layerc.codegen.cpu.simd import WIDTH, vload, vmax, vstore
from layerc.codegen.cpu.threads import pool_size


@njit(**FAST_JIT)
def _bands(lo, hi, cols, nblk, src, x0, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, zero, weights,
           w0, b0, relu, out, y0, f, ph, pw, ohp, owp, band):
    """Bands lo..hi: band u is sample u // (ohp * nblk), pooled row
    (u // nblk) % ohp, pooled columns from (u % nblk) * cols, `cols` of them
    (the last block fewer)."""
    for u in range(lo, hi):
        b, pi, blk = u // (ohp * nblk), (u // nblk) % ohp, u % nblk
        j0 = blk * cols
        width = min(cols, owp - j0) * pw  # the band's convolution columns
        tiles = -(-(ph * width) // MR) * -(-f // NR)
        _tiles(0, tiles, src, x0 + b * h * w * c, 1, h, w, c, ph, width, kh, kw, sh, sw, dh,
               dw, pt - pi * ph * sh, pl - j0 * pw * sw, zero, weights, w0, b0, relu, band, 0,
               f)
        _pool(band, width, out, y0 + ((b * ohp + pi) * owp + j0) * f, f, ph, pw)


@njit(**FAST_JIT)
def _pool(band, width, out, at, f, ph, pw):
    """out[at:] = the ph x pw max pooling of a band of ph rows of `width`
    pixels of f channels, a vector of channels at a time (NaN wins, as in
    the pooling's own kernel: ops/pool.py), the channels past the last whole
    vector one by one."""
    whole = f - f % WIDTH
    for pj in range(width // pw):
        for ch in range(0, whole, WIDTH):
            acc = vload(band, pj * pw * f + ch)
            for r in range(ph):
                for q in range(pw):
                    acc = vmax(acc, vload(band, (r * width + pj * pw + q) * f + ch))
            vstore(out, at + pj * f + ch, acc)
        for ch in range(whole, f):
            acc = band[pj * pw * f + ch]
            for r in range(ph):
                for q in range(pw):
                    v = band[(r * width + pj * pw + q) * f + ch]
                    if v > acc or math.isnan(v):
                        acc = v
            out[at + pj * f + ch] = acc


@njit(**PARALLEL_JIT)
def _split(units, chunks, cols, nblk, src, x0, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, zero,
           weights, w0, b0, relu, out, y0, f, ph, pw, ohp, owp):
    for ci in prange(chunks):
        band = np.empty(ph * cols * pw * f, np.float32)
        _bands(ci * units // chunks, (ci + 1) * units // chunks, cols, nblk, src, x0, h, w, c,
               kh, kw, sh, sw, dh, dw, pt, pl, zero, weights, w0, b0, relu, out, y0, f, ph, pw,
               ohp, owp, band)


@njit(**FAST_JIT)
def conv_max_pool(src, x0, batch, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, zero, weights, w0,
                  b0, relu, out, y0, f, ph, pw, ohp, owp):
    """out[y0:] (batch, ohp, owp, f) = the ph x pw max pooling (strides ph,
    pw; no padding) of `gemm`'s convolution (the same operands, but only its
    first ohp * ph rows and owp * pw columns are computed). Bands hold whole
    pooled rows, or, when there are fewer than CHUNKS_PER_THREAD per thread
    (a 1-D layer at batch 1), blocks of a row, so every thread has work."""
    threads = pool_size()
    rows = batch * ohp
    nblk = min(owp, -(-CHUNKS_PER_THREAD * threads // rows)) if threads > 1 else 1
    cols = -(-owp // nblk)
    nblk = -(-owp // cols)
    units = rows * nblk
    chunks = min(units, CHUNKS_PER_THREAD * threads) if threads > 1 else 1
    if 2 * rows * ph * owp * pw * kh * kw * c * f < SERIAL_FLOPS:
        chunks = 1
    if chunks <= 1:
        band = np.empty(ph * cols * pw * f, np.float32)
        _bands(0, units, cols, nblk, src, x0, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, zero,
               weights, w0, b0, relu, out, y0, f, ph, pw, ohp, owp, band)
    else:
        _split(units, chunks, cols, nblk, src, x0, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl,
               zero, weights, w0, b0, relu, out, y0, f, ph, pw, ohp, owp)
