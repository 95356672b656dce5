"""Winograd F(2x2, 3x3): a 3x3, stride-1, undilated channels-last convolution
in 16 products of 2.25x fewer multiplications than the implicit GEMM's.

Lavin & Gray (2015): a 2x2 block of outputs is Y = A' [(G g G') * (B' d B)] A
for the 4x4 input tile d under it and the 3x3 kernel g, with

    B' = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G  = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A' = [[1, 1, 1, 0], [0, 1, -1, -1]]

For every input channel and output channel that is 16 products where the
direct sum takes 36, and over channels each of the 16 positions e of the 4x4
is a matrix product: M_e (tiles x F) = V_e (tiles x C) @ U_e (C x F). So:
- U_e = G g G' is computed at lowering and packed into the GEMM's panels
  (gemm.py), 16 packed (C x F) kernels, C padded to whole vectors;
- the tiles are taken a block at a time, small enough that the block's V and
  M (16 x block x channels each) stay in L2: the input transform (B' d B,
  additions only, a vector of channels at a time) writes V, the GEMM
  micro-kernel multiplies, the output transform (A' M A) adds the bias,
  applies the ReLU and writes the 2x2 outputs that lie inside the map, or
  (a 2x2 max pooling fused: fusion.py) their maximum, the pooled output;
- blocks are split over layerc's thread team (team.py) in one region.

Adding and subtracting before multiplying rounds differently from the
direct sum; for F(2x2, 3x3) the difference stays near float32's epsilon
times the sum of magnitudes (the tests hold it to DESIGN.md's 1e-5).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit

from layerc.codegen.cpu import simd, team
from layerc.codegen.cpu.gemm import MR, NR, chunks_for, npanels, pack, tile, whole
from layerc.codegen.cpu.kernels import FAST_JIT
from layerc.codegen.cpu.simd import vadd, vget, vload, vmax, vrelu, vstore, vsub, vzero

W = simd.WIDTH
# A block's V and M (16 x tiles x channels, float32) together fit in this.
BLOCK_BYTES = 256 * 1024
_G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])


@njit(**FAST_JIT)
def padded(c: int) -> int:
    """c rounded up to whole vectors."""
    return -(-c // W) * W


def pack_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras's (3, 3, C, F) kernel -> the 16 transformed (C, F) kernels G g G',
    each `pack`ed (C padded to whole vectors with zero rows), one after
    another. The transform runs in float64: one rounding, at the end."""
    _, _, c, f = kernel.shape
    u = np.einsum("ai,ijcf,bj->abcf", _G, kernel.astype(np.float64), _G)
    parts = []
    for e in range(16):
        m = np.zeros((padded.py_func(c), f), np.float32)
        m[:c] = u[e // 4, e % 4]
        parts.append(pack(m))
    return np.concatenate(parts)


def fits(window: Mapping[str, int]) -> bool:
    """Whether a convolution's window operands (codegen/lowering.py) are the
    3x3, stride-1, undilated ones this kernel computes."""
    return all(window[k] == v for k, v in
               dict(kh=3, kw=3, sh=1, sw=1, dh=1, dw=1, first=0).items())


@njit(**FAST_JIT)
def block_tiles(cp: int, fp: int, tiles: int, threads: int) -> int:
    """Tiles per block: a multiple of MR whose V and M fit in BLOCK_BYTES,
    and small enough that each of the threads gets a block (a batch-1
    layer's few tiles, MNIST's second convolution's 36, would otherwise fill
    one block and run on one thread)."""
    fit = MR * max(1, min(16, BLOCK_BYTES // (16 * (cp + fp) * 4) // MR))
    return min(fit, MR * max(1, -(-tiles // (threads * MR))))


@njit(**FAST_JIT, inline="always")
def _bt(d0, d1, d2, d3):
    """B' applied to four vectors."""
    return vsub(d0, d2), vadd(d1, d2), vsub(d2, d1), vsub(d1, d3)


@njit(**FAST_JIT, inline="always")
def _at(m0, m1, m2, m3):
    """A' applied to four vectors."""
    return vadd(vadd(m0, m1), m2), vsub(vsub(m1, m2), m3)


@njit(**FAST_JIT)
def _transform_in(a, at, dy, dz, v, vo, vs):
    """B' d B for the 4x4 tile of vectors at a[at + r*dy + q*dz], written to
    v[vo + e*vs] for e = 4r + q."""
    c0 = _bt(vload(a, at), vload(a, at + dy), vload(a, at + 2 * dy), vload(a, at + 3 * dy))
    at += dz
    c1 = _bt(vload(a, at), vload(a, at + dy), vload(a, at + 2 * dy), vload(a, at + 3 * dy))
    at += dz
    c2 = _bt(vload(a, at), vload(a, at + dy), vload(a, at + 2 * dy), vload(a, at + 3 * dy))
    at += dz
    c3 = _bt(vload(a, at), vload(a, at + dy), vload(a, at + 2 * dy), vload(a, at + 3 * dy))
    for r in range(4):
        row = _bt(c0[r], c1[r], c2[r], c3[r])
        for q in range(4):
            vstore(v, vo + (4 * r + q) * vs, row[q])


@njit(**FAST_JIT)
def _patch(src, x0, h, w, c, y0, z0, ch, patch):
    """The 4x4 window of vectors at row y0, column z0 and channel ch of the
    sample at src[x0:], zeros outside the image or past c, into patch."""
    for r in range(4):
        for q in range(4):
            y, z = y0 + r, z0 + q
            at = (4 * r + q) * W
            if 0 <= y < h and 0 <= z < w:
                base = x0 + (y * w + z) * c + ch
                for lane in range(W):
                    patch[at + lane] = src[base + lane] if ch + lane < c else 0.0
            else:
                patch[at: at + W] = 0.0


@njit(**FAST_JIT, inline="always")
def _grid(oh, ow, pool):
    """The tiles' rows and columns over an oh x ow map: those that cover it,
    or with `pool`, those whose 2x2 block lies inside it (a pooling window)."""
    if pool:
        return oh // 2, ow // 2
    return (oh + 1) // 2, (ow + 1) // 2


@njit(**FAST_JIT, inline="always")
def _tile_at(t, th, tw):
    """Tile t of a (batch, th, tw) grid: its sample, row and column."""
    b = t // (th * tw)
    i = (t - b * th * tw) // tw
    return b, i, t - (b * th + i) * tw


@njit(**FAST_JIT)
def _store(out, at, v, n):
    """The first n (< W: the last channels) lanes of v."""
    for lane in range(n):
        out[at + lane] = vget(v, lane)


@njit(**FAST_JIT)
def _blocks(lo, hi, tb, src, x0, batch, h, w, c, oh, ow, pt, pl, weights, w0, b0, relu, out,
            y0, f, pool):
    """Blocks lo..hi of `winograd`'s tiles, in the calling thread."""
    th, tw = _grid(oh, ow, pool)
    tiles = batch * th * tw
    cp, np_ = padded(c), npanels(f)
    fp = np_ * NR
    v = np.empty(16 * tb * cp, np.float32)
    m = np.empty(16 * tb * fp, np.float32)
    patch = np.empty(16 * W, np.float32)
    offs = np.empty(MR, np.int64)
    for blk in range(lo, hi):
        t0 = blk * tb
        nt = min(tb, tiles - t0)
        for k in range(nt):  # the input transform
            b, i, j = _tile_at(t0 + k, th, tw)
            yy, zz = 2 * i - pt, 2 * j - pl
            inside = yy >= 0 and zz >= 0 and yy + 4 <= h and zz + 4 <= w
            xb = x0 + b * h * w * c
            for ch in range(0, cp, W):
                if inside and ch + W <= c:
                    _transform_in(src, xb + (yy * w + zz) * c + ch, w * c, c, v, k * cp + ch,
                                  tb * cp)
                else:
                    _patch(src, xb, h, w, c, yy, zz, ch, patch)
                    _transform_in(patch, 0, 4 * W, W, v, k * cp + ch, tb * cp)
        for e in range(16):  # 16 products on the micro-kernel
            for p in range(np_):
                wp = w0 + (e * np_ + p) * cp * NR
                for g0 in range(0, nt, MR):
                    rows = min(MR, nt - g0)
                    for r in range(MR):
                        offs[r] = (e * tb + g0 + min(r, rows - 1)) * cp
                    at = (e * tb + g0) * fp + p * NR
                    if rows == MR:
                        whole(v, offs, 1, cp, weights, wp, m, at, fp, weights, 0, False, False)
                    else:
                        tile(v, offs, 1, cp, weights, wp, m, at, fp, rows, NR, weights, 0, False,
                             False)
        for k in range(nt):  # the output transform
            b, i, j = _tile_at(t0 + k, th, tw)
            down, right = 2 * i + 1 < oh, 2 * j + 1 < ow
            if pool:
                at = y0 + ((b * (oh // 2) + i) * (ow // 2) + j) * f
            else:
                at = y0 + ((b * oh + 2 * i) * ow + 2 * j) * f
            for ch in range(0, f, W):
                mo = k * fp + ch
                ms = tb * fp
                s0 = _at(vload(m, mo), vload(m, mo + 4 * ms), vload(m, mo + 8 * ms),
                         vload(m, mo + 12 * ms))
                s1 = _at(vload(m, mo + ms), vload(m, mo + 5 * ms), vload(m, mo + 9 * ms),
                         vload(m, mo + 13 * ms))
                s2 = _at(vload(m, mo + 2 * ms), vload(m, mo + 6 * ms), vload(m, mo + 10 * ms),
                         vload(m, mo + 14 * ms))
                s3 = _at(vload(m, mo + 3 * ms), vload(m, mo + 7 * ms), vload(m, mo + 11 * ms),
                         vload(m, mo + 15 * ms))
                y00, y01 = _at(s0[0], s1[0], s2[0], s3[0])
                y10, y11 = _at(s0[1], s1[1], s2[1], s3[1])
                bias = vload(weights, b0 + ch) if b0 >= 0 else vzero()
                y00, y01 = vadd(y00, bias), vadd(y01, bias)
                y10, y11 = vadd(y10, bias), vadd(y11, bias)
                if relu:
                    y00, y01, y10, y11 = vrelu(y00), vrelu(y01), vrelu(y10), vrelu(y11)
                n = f - ch
                o = at + ch
                if pool:  # the 2x2 block is the window (NaN wins, as in ops/pool.py)
                    y00 = vmax(vmax(y00, y01), vmax(y10, y11))
                    if n >= W:
                        vstore(out, o, y00)
                    else:
                        _store(out, o, y00, n)
                elif n >= W:
                    vstore(out, o, y00)
                    if right:
                        vstore(out, o + f, y01)
                    if down:
                        vstore(out, o + ow * f, y10)
                        if right:
                            vstore(out, o + ow * f + f, y11)
                else:
                    _store(out, o, y00, n)
                    if right:
                        _store(out, o + f, y01, n)
                    if down:
                        _store(out, o + ow * f, y10, n)
                        if right:
                            _store(out, o + ow * f + f, y11, n)


@njit(**FAST_JIT)
def _split(chunks, blocks, tb, src, x0, batch, h, w, c, oh, ow, pt, pl, weights, w0, b0, relu,
           out, y0, f, pool):
    """The blocks in `chunks` chunks, a team region (team.py)."""
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        _blocks(ci * blocks // chunks, (ci + 1) * blocks // chunks, tb, src, x0, batch, h, w,
                c, oh, ow, pt, pl, weights, w0, b0, relu, out, y0, f, pool)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@njit(**FAST_JIT)
def winograd(src, x0, batch, h, w, c, oh, ow, pt, pl, weights, w0, b0, relu, out, y0, f, pool):
    """out[y0:] (batch, oh, ow, f) = the 3x3 stride-1 convolution of src[x0:]
    (batch, h, w, c) with pads pt (top) and pl (left), the kernel packed at
    weights[w0:] (`pack_kernel`), plus the bias packed at weights[b0:]
    (`gemm.pack_bias`: whole panels; b0 < 0: none), through a ReLU if `relu`;
    with `pool`, out[y0:] (batch, oh // 2, ow // 2, f) = its 2x2 max pooling
    (strides 2, no padding: a tile's 2x2 outputs, the last row and column
    of an odd map dropped) instead."""
    th, tw = _grid(oh, ow, pool)
    tiles = batch * th * tw
    tb = block_tiles(padded(c), npanels(f) * NR, tiles, team.size())
    blocks = -(-tiles // tb)
    # the FLOPs of the direct convolution, which the region's size is set by
    chunks = chunks_for(blocks, 18 * batch * oh * ow * c * f)
    _split(chunks, blocks, tb, src, x0, batch, h, w, c, oh, ow, pt, pl, weights, w0, b0, relu,
           out, y0, f, pool)
