"""The CUDA kernels of the window ops: direct loops, a thread per output value.

Every op sees 2-D maps (a 1-D op has height 1). An output index decomposes in
the output's own layout, so consecutive threads write consecutive addresses
in both data formats. Importing this module loads numba.cuda.
"""

from __future__ import annotations

import math

from layerc.codegen.cuda.kernels import NEG_INF, ZERO, act_scalar, cuda, float32


@cuda.jit(device=True)
def _position(i, oh, ow, f, first):
    """(sample, row, column, channel) of output value i."""
    if first:
        x = i % ow
        r = i // ow
        y = r % oh
        r = r // oh
        return r // f, y, x, r % f
    ch = i % f
    r = i // f
    x = r % ow
    r = r // ow
    return r // oh, r % oh, x, ch


@cuda.jit
def conv(x, xo, w, wo, bo, y, yo, batch, h, wd, c, oh, ow, f, kh, kw, sh, sw, dh, dw, pt, pl,
         first, act):
    """A direct convolution with explicit top/left pads (cells outside the
    input count as zeros) and a fused bias + element-wise activation."""
    for i in range(cuda.grid(1), batch * oh * ow * f, cuda.gridsize(1)):
        b, oy, ox, fo = _position(i, oh, ow, f, first)
        acc = ZERO
        for r in range(kh):
            yy = oy * sh - pt + r * dh
            if yy < 0 or yy >= h:
                continue
            for q in range(kw):
                zz = ox * sw - pl + q * dw
                if zz < 0 or zz >= wd:
                    continue
                wbase = wo + (r * kw + q) * c * f + fo
                for ch in range(c):
                    if first:
                        v = x[xo + ((b * c + ch) * h + yy) * wd + zz]
                    else:
                        v = x[xo + ((b * h + yy) * wd + zz) * c + ch]
                    acc += v * w[wbase + ch * f]
        if bo >= 0:
            acc += w[bo + fo]
        y[yo + i] = act_scalar(acc, act)


@cuda.jit
def pool(x, xo, y, yo, batch, h, wd, c, oh, ow, kh, kw, sh, sw, pt, pl, first, is_max):
    """Max pooling (padding never wins; NaN does) or average pooling over the
    window's cells inside the input."""
    for i in range(cuda.grid(1), batch * oh * ow * c, cuda.gridsize(1)):
        b, oy, ox, ch = _position(i, oh, ow, c, first)
        y0 = oy * sh - pt
        z0 = ox * sw - pl
        ys = y0 if y0 > 0 else 0  # (no max/min: see kernels.softplus)
        ye = y0 + kh if y0 + kh < h else h
        zs = z0 if z0 > 0 else 0
        ze = z0 + kw if z0 + kw < wd else wd
        acc = NEG_INF if is_max else ZERO
        for yy in range(ys, ye):
            for zz in range(zs, ze):
                if first:
                    v = x[xo + ((b * c + ch) * h + yy) * wd + zz]
                else:
                    v = x[xo + ((b * h + yy) * wd + zz) * c + ch]
                if not is_max:
                    acc += v
                elif v > acc or math.isnan(v):
                    acc = v
        if not is_max:
            acc = acc / float32((ye - ys) * (ze - zs))
        y[yo + i] = acc


@cuda.jit
def global_pool(x, xo, y, yo, mo, batch, spatial, c, first, is_max):
    """Max or average over all positions, a thread per (sample, channel); with
    a mask (mo >= 0) the average runs over the unmasked positions only."""
    for i in range(cuda.grid(1), batch * c, cuda.gridsize(1)):
        b = i // c
        ch = i - b * c
        acc = NEG_INF if is_max else ZERO
        count = ZERO
        for s in range(spatial):
            if first:
                v = x[xo + (b * c + ch) * spatial + s]
            else:
                v = x[xo + (b * spatial + s) * c + ch]
            if is_max:
                if v > acc or math.isnan(v):
                    acc = v
            elif mo >= 0:
                m = x[mo + b * spatial + s]
                acc += v * m
                count += m
            else:
                acc += v
                count += float32(1.0)
        y[yo + i] = acc if is_max else acc / count


@cuda.jit
def local(x, xo, w, wo, bo, y, yo, batch, h, wd, c, oh, ow, f, kh, kw, sh, sw, first, act):
    """Locally connected: output position p has its own (kh * kw * c, f)
    kernel, rows in (kernel offsets, channel) order in both formats."""
    k = kh * kw * c
    for i in range(cuda.grid(1), batch * oh * ow * f, cuda.gridsize(1)):
        b, oy, ox, fo = _position(i, oh, ow, f, first)
        p = oy * ow + ox
        wbase = wo + p * k * f + fo
        acc = ZERO
        for r in range(kh):
            yy = oy * sh + r
            for q in range(kw):
                zz = ox * sw + q
                for ch in range(c):
                    if first:
                        v = x[xo + ((b * c + ch) * h + yy) * wd + zz]
                    else:
                        v = x[xo + ((b * h + yy) * wd + zz) * c + ch]
                    acc += v * w[wbase + ((r * kw + q) * c + ch) * f]
        if bo >= 0:
            acc += w[bo + p * f + fo]
        y[yo + i] = act_scalar(acc, act)
