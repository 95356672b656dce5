"""CUDA: windowed pooling (max, or average over the cells inside the input)
and global pooling (with the mask of a masked 1-D average): kernels, a thread
per output value, and launchers (the lowerings are shared: codegen/lowering.py)."""

from __future__ import annotations

import math
from typing import Any

from layerc.codegen.windows import WINDOW_FIELDS
from layerc.codegen.cuda.kernels import NEG_INF, ZERO, cuda, float32, position
from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.launch import grid, launcher

# planes: 2-D maps per sample pooled alike (a 3-D pooling's steps: windows.pool_3d)
POOL = kernel("pool", f"x y {WINDOW_FIELDS} planes max")
GLOBAL_POOL = kernel("global_pool", "x y spatial c first max mask")  # mask: -1 when none


@cuda.jit
def pool(x, xo, y, yo, batch, h, wd, c, oh, ow, kh, kw, sh, sw, pt, pl, first, is_max):
    """Max pooling (padding never wins; NaN does) or average pooling over the
    window's cells inside the input."""
    for i in range(cuda.grid(1), batch * oh * ow * c, cuda.gridsize(1)):
        b, oy, ox, ch = position(i, oh, ow, c, first)
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


@launcher(POOL)
def _pool(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    maps = batch * o["planes"]  # each pooled as a sample
    total = maps * o["oh"] * o["ow"] * o["c"]
    if total:
        pool[grid(total)](
            arena, o["x"] * batch, arena, o["y"] * batch, maps, o["h"], o["w_"], o["c"],
            o["oh"], o["ow"], o["kh"], o["kw"], o["sh"], o["sw"], o["pt"], o["pl"],
            o["first"], o["max"])


@launcher(GLOBAL_POOL)
def _global_pool(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = batch * o["c"]
    if total:
        mask = o["mask"] * batch if o["mask"] >= 0 else -1
        global_pool[grid(total)](
            arena, o["x"] * batch, arena, o["y"] * batch, mask, batch, o["spatial"], o["c"],
            o["first"], o["max"])
