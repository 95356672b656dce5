"""CPU: windowed pooling (max, or average over the cells inside the input)
and global pooling (with the mask of a masked 1-D average): opcodes, kernels,
steps (the lowerings are shared: codegen/lowering.py, but a max pooling that
its convolution's step runs has none: fusion.py). Windows are 2-D (a 1-D op
has height 1; a 3-D one is two 2-D steps, windows.pool_3d)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from layerc.codegen.base import SHARED, BaseEmitter
from layerc.codegen.cpu.fusion import pooled_by
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.windows import WINDOW_FIELDS
from layerc.ir import Node, OpKind
from layerc.codegen.cpu import team
from layerc.codegen.cpu.gemm import chunks_for
from layerc.codegen.cpu.kernels import FAST_JIT, JIT
from layerc.codegen.cpu.simd import WIDTH, vload, vmax, vstore
from layerc.codegen.cpu.opcodes import arena, opcode, runs, touches

# planes: 2-D maps per sample pooled alike (a 3-D pooling's steps: windows.pool_3d)
POOL = opcode("pool", f"x y {WINDOW_FIELDS} planes max")
GLOBAL_POOL = opcode("global_pool", "x y spatial c first max mask")  # mask: -1 when none
_P, _G = POOL.cols, GLOBAL_POOL.cols


@touches(POOL)
def _pool_touches(r):
    return (arena(r, "x", r.h * r.w_ * r.c * r.planes)
            + arena(r, "y", r.oh * r.ow * r.c * r.planes))


@touches(GLOBAL_POOL)
def _global_pool_touches(r):
    return (arena(r, "x", r.spatial * r.c) + arena(r, "y", r.c)
            + arena(r, "mask", r.spatial))


# ----- kernels -----
@njit(**FAST_JIT, inline="always")
def _cells(i, stride, pad, size, n):
    """The cells start..stop of an axis of n that output i's window covers
    (padding excluded)."""
    start = i * stride - pad
    return max(start, 0), min(start + size, n)


@njit(**FAST_JIT)
def max_pool_last(x, y, batch, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl):
    """Channels-last max pooling, a vector of channels at a time (simd.py),
    the channels past the last whole vector one by one; NaN wins."""
    whole = c - c % WIDTH
    for b in range(batch):
        for i in range(oh):
            ys, ye = _cells(i, sh, pt, kh, h)
            for j in range(ow):
                zs, ze = _cells(j, sw, pl, kw, w)
                at = ((b * oh + i) * ow + j) * c
                if ye <= ys or ze <= zs:
                    for ch in range(c):
                        y[at + ch] = -np.inf
                    continue
                first = ((b * h + ys) * w + zs) * c
                for ch in range(0, whole, WIDTH):
                    acc = vload(x, first + ch)
                    for yy in range(ys, ye):
                        for zz in range(zs, ze):
                            acc = vmax(acc, vload(x, ((b * h + yy) * w + zz) * c + ch))
                    vstore(y, at + ch, acc)
                for ch in range(whole, c):
                    acc = x[first + ch]
                    for yy in range(ys, ye):
                        for zz in range(zs, ze):
                            v = x[((b * h + yy) * w + zz) * c + ch]
                            if v > acc or math.isnan(v):
                                acc = v
                    y[at + ch] = acc


@njit(**JIT)
def pool(x, y, batch, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl, channels_first, is_max):
    """Max pooling (padding never wins) or average pooling over in-bounds cells."""
    if is_max and not channels_first:
        max_pool_last(x, y, batch, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl)
        return
    for b in range(batch):
        for i in range(oh):
            ys, ye = _cells(i, sh, pt, kh, h)
            for j in range(ow):
                zs, ze = _cells(j, sw, pl, kw, w)
                count = (ye - ys) * (ze - zs)
                if channels_first:
                    for ch in range(c):
                        plane = x[(b * c + ch) * h * w: (b * c + ch + 1) * h * w]
                        acc = -np.inf if is_max else 0.0
                        for yy in range(ys, ye):
                            for zz in range(zs, ze):
                                v = plane[yy * w + zz]
                                if is_max:
                                    if v > acc or math.isnan(v):
                                        acc = v
                                else:
                                    acc += v
                        y[((b * c + ch) * oh + i) * ow + j] = acc if is_max else acc / count
                else:
                    out = y[((b * oh + i) * ow + j) * c: ((b * oh + i) * ow + j + 1) * c]
                    out[:] = 0.0
                    for yy in range(ys, ye):
                        for zz in range(zs, ze):
                            src = x[((b * h + yy) * w + zz) * c: ((b * h + yy) * w + zz + 1) * c]
                            out += src  # (max: max_pool_last)
                    out /= count


@njit(**FAST_JIT)
def max_over_rows(x, at, rows, c, out):
    """out[:c] = the max over `rows` rows of c floats from x[at:], a vector
    of channels at a time (NaN wins), the channels past whole vectors one by
    one; -inf when there are no rows."""
    whole = c - c % WIDTH if rows > 0 else 0
    for ch in range(0, whole, WIDTH):
        acc = vload(x, at + ch)
        for s in range(1, rows):
            acc = vmax(acc, vload(x, at + s * c + ch))
        vstore(out, ch, acc)
    for ch in range(whole, c):
        acc = -np.inf
        for s in range(rows):
            v = x[at + s * c + ch]
            if v > acc or math.isnan(v):
                acc = v
        out[ch] = acc


@njit(**JIT)
def global_pool(x, y, batch, spatial, c, channels_first, is_max, mask):
    """Max or average over all positions; with a mask (batch, spatial) of 1/0,
    the average runs over the unmasked positions only, as Keras's does."""
    masked = mask.size > 0
    for b in range(batch):
        out = y[b * c: (b + 1) * c]
        weights = mask[b * spatial: (b + 1) * spatial] if masked else mask
        count = 0.0
        for s in range(spatial):
            count += weights[s] if masked else 1.0
        if channels_first:
            for ch in range(c):
                cells = x[(b * c + ch) * spatial: (b * c + ch + 1) * spatial]
                if is_max:
                    acc = -np.inf
                    for v in cells:
                        if v > acc or math.isnan(v):
                            acc = v
                    out[ch] = acc
                else:
                    acc = 0.0
                    for s in range(spatial):
                        acc += cells[s] * weights[s] if masked else cells[s]
                    out[ch] = acc / count
        elif is_max:
            max_over_rows(x, (b * spatial) * c, spatial, c, out)
        else:  # loops, not array expressions: 103 -> 39-50 us over (64, 64, 64)
            out[:] = 0.0
            for s in range(spatial):
                src = x[(b * spatial + s) * c: (b * spatial + s + 1) * c]
                if masked:
                    weight = weights[s]
                    for ch in range(c):
                        out[ch] += src[ch] * weight
                else:
                    for ch in range(c):
                        out[ch] += src[ch]
            for ch in range(c):
                out[ch] /= count


@njit(**FAST_JIT)
def pool_split(x, y, batch, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl, channels_first, is_max):
    """`pool` with the batch split over layerc's thread team, a region
    (team.py) of chunks of samples."""
    chunks = chunks_for(batch, 2 * batch * h * w * c)
    per_in, per_out = h * w * c, oh * ow * c
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        lo = ci * batch // chunks
        hi = (ci + 1) * batch // chunks
        pool(x[lo * per_in: hi * per_in], y[lo * per_out: hi * per_out], hi - lo, h, w, c, oh,
             ow, kh, kw, sh, sw, pt, pl, channels_first, is_max)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


# ----- steps -----
@runs(POOL)
@njit(**JIT)
def run_pool(r, weights, arena, state, batch):
    h, w, c, oh, ow = r[_P.h], r[_P.w_], r[_P.c], r[_P.oh], r[_P.ow]
    n = batch * r[_P.planes]  # the maps, each pooled as a sample
    x, y = r[_P.x] * batch, r[_P.y] * batch
    args = (arena[x: x + h * w * c * n], arena[y: y + oh * ow * c * n], n, h, w, c, oh, ow,
            r[_P.kh], r[_P.kw], r[_P.sh], r[_P.sw], r[_P.pt], r[_P.pl], r[_P.first] == 1,
            r[_P.max] == 1)
    if n > 1:
        pool_split(*args)
    elif team.lead():
        pool(*args)


@runs(GLOBAL_POOL)
@njit(**JIT)
def run_global_pool(r, weights, arena, state, batch):
    spatial, c, m = r[_G.spatial], r[_G.c], r[_G.mask]
    mask = arena[m * batch: (m + spatial) * batch] if m >= 0 else arena[:0]
    global_pool(arena[r[_G.x] * batch: (r[_G.x] + spatial * c) * batch],
                arena[r[_G.y] * batch: (r[_G.y] + c) * batch], batch, spatial, c,
                r[_G.first] == 1, r[_G.max] == 1, mask)


# ----- the lowering -----
@lowers(OpKind.POOL)
def lower_pool(e: BaseEmitter, node: Node) -> None:
    producer = e.graph.node(node.inputs[0].node)
    if pooled_by(e, producer) is not node:
        SHARED[OpKind.POOL](e, node)  # codegen/lowering.py
