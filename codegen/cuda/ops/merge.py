"""CUDA: the merge ops (element-wise merges as chains of binary kernels, then
a scale for Average; concatenation as one copy per input; Dot's per-sample
matrix product, a thread per output value): kernels and launchers (the
lowerings are shared: codegen/lowering.py)."""

from __future__ import annotations

import math
from typing import Any

from layerc.codegen.codes import BINOP
from layerc.codegen.cuda.kernels import NAN, ZERO, cuda
from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.launch import grid, launcher

BINARY = kernel("binary", "a b y size binop")
SCALE = kernel("scale", "x y size factor")  # factor: the weight offset of the scale factor
CONCAT = kernel("concat", "x y outer inner stride start")
DOT = kernel("dot", "a b y rows k cols groups")
MASKED = kernel("masked_binary", "a b y size binop ma mb width zero")


# ----- kernels -----
@cuda.jit
def binary(a, ao, b, bo, y, yo, size, op):
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        u = a[ao + i]
        v = b[bo + i]
        if op == BINOP.add:
            r = u + v
        elif op == BINOP.sub:
            r = u - v
        elif op == BINOP.mul:
            r = u * v
        elif op == BINOP.max:  # NaN in either input gives NaN, as numpy.maximum does
            r = u if (u > v or math.isnan(u)) else v
        elif op == BINOP.min:
            r = u if (u < v or math.isnan(u)) else v
        else:
            r = NAN
        y[yo + i] = r


@cuda.jit
def masked_binary(a, ao, b, bo, y, yo, mao, mbo, size, op, width, zero):
    """Keras's masked Maximum/Minimum/Multiply pair; the masks lie in the
    arena too (a is the arena), a mask offset < 0: none."""
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        row = i // width
        keep_a = mao < 0 or a[mao + row] != 0
        keep_b = mbo < 0 or a[mbo + row] != 0
        u = a[ao + i]
        v = b[bo + i]
        if keep_b and keep_a:
            if op == BINOP.mul:
                r = u * v
            elif op == BINOP.max:
                r = u if (u > v or math.isnan(u)) else v
            else:
                r = u if (u < v or math.isnan(u)) else v
        elif keep_b:
            r = v
        elif keep_a or zero == 0:
            r = u
        else:
            r = ZERO
        y[yo + i] = r


@cuda.jit
def scale(x, xo, w, wo, y, yo, size):
    factor = w[wo]
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        y[yo + i] = x[xo + i] * factor


@cuda.jit
def concat(x, xo, y, yo, total, inner, stride, start):
    """x viewed as (outer, inner) into columns [start, start + inner) of y
    viewed as (outer, stride); `total` = outer * inner."""
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        o = i // inner
        y[yo + o * stride + start + i - o * inner] = x[xo + i]


# ----- launchers -----
@launcher(BINARY)
def _binary(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    size = o["size"] * batch
    if size:
        binary[grid(size)](arena, o["a"] * batch, arena, o["b"] * batch, arena,
                           o["y"] * batch, size, o["binop"])


@launcher(MASKED)
def _masked_binary(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    size = o["size"] * batch
    if size:
        ma, mb = (o[k] * batch if o[k] >= 0 else -1 for k in ("ma", "mb"))
        masked_binary[grid(size)](arena, o["a"] * batch, arena, o["b"] * batch, arena,
                                  o["y"] * batch, ma, mb, size, o["binop"], o["width"],
                                  o["zero"])


@launcher(SCALE)
def _scale(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    size = o["size"] * batch
    if size:
        scale[grid(size)](arena, o["x"] * batch, weights, o["factor"], arena, o["y"] * batch,
                          size)


@launcher(CONCAT)
def _concat(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = o["outer"] * batch * o["inner"]
    if total:
        concat[grid(total)](arena, o["x"] * batch, arena, o["y"] * batch, total, o["inner"],
                            o["stride"], o["start"])


@cuda.jit
def dot(a, ao, b, bo, y, yo, total, rows, k, cols):
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        j = i % cols
        r = (i // cols) % rows
        n = i // (cols * rows)
        acc = ZERO
        for q in range(k):
            acc += a[ao + (n * rows + r) * k + q] * b[bo + (n * k + q) * cols + j]
        y[yo + i] = acc


@launcher(DOT)
def _dot(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = o["rows"] * o["cols"] * batch * o["groups"]
    if total:
        dot[grid(total)](arena, o["a"] * batch, arena, o["b"] * batch, arena, o["y"] * batch,
                         total, o["rows"], o["k"], o["cols"])
