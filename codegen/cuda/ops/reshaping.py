"""CUDA: the reshaping ops that move values (RepeatVector's repeat, the
strided copy behind transposes, padding, cropping, nearest upsampling and
broadcasts) and the bilinear resize: a thread per output value; the
lowerings are shared (codegen/moves.py)."""

from __future__ import annotations

import math
from typing import Any

from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.kernels import ZERO, cuda
from layerc.codegen.cuda.launch import grid, launcher

REPEAT = kernel("repeat", "x y n size")


@cuda.jit
def repeat(x, xo, y, yo, total, n, size):
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        y[yo + i] = x[xo + (i // (n * size)) * size + i % size]


@launcher(REPEAT)
def _repeat(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = o["n"] * o["size"] * batch
    if total:
        repeat[grid(total)](arena, o["x"] * batch, arena, o["y"] * batch, total, o["n"],
                            o["size"])


# ----- the strided copy: a thread per value of the index space -----
STRIDED = kernel("strided", "x y xsize ysize zero xo yo d0 d1 d2 d3 d4 d5 "
                 "xs0 xs1 xs2 xs3 xs4 xs5 ys0 ys1 ys2 ys3 ys4 ys5")


@cuda.jit
def zero_fill(y, yo, total):
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        y[yo + i] = ZERO


@cuda.jit
def strided(x, xo, xsize, y, yo, ysize, total, d0, d1, d2, d3, d4, d5, a0, a1, a2, a3, a4, a5,
            b0, b1, b2, b3, b4, b5):
    """d0..d5, a0..a5, b0..b5: the six axes' sizes and x and y strides (the
    batch's are xsize and ysize), innermost last."""
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        q = i
        xi = xo + (q % d5) * a5
        yi = yo + (q % d5) * b5
        q //= d5
        xi += (q % d4) * a4
        yi += (q % d4) * b4
        q //= d4
        xi += (q % d3) * a3
        yi += (q % d3) * b3
        q //= d3
        xi += (q % d2) * a2
        yi += (q % d2) * b2
        q //= d2
        xi += (q % d1) * a1
        yi += (q % d1) * b1
        q //= d1
        xi += (q % d0) * a0
        yi += (q % d0) * b0
        q //= d0
        y[yi + q * ysize] = x[xi + q * xsize]


@launcher(STRIDED)
def _strided(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    if o["zero"] and o["ysize"] * batch:
        zero_fill[grid(o["ysize"] * batch)](arena, o["y"] * batch, o["ysize"] * batch)
    dims = [o[f"d{k}"] for k in range(6)]
    total = math.prod(dims) * batch
    if total:
        strided[grid(total)](arena, o["x"] * batch + o["xo"], o["xsize"], arena,
                             o["y"] * batch + o["yo"], o["ysize"], total, *dims,
                             *(o[f"xs{k}"] for k in range(6)), *(o[f"ys{k}"] for k in range(6)))

