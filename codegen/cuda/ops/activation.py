"""CUDA: the activation layers with parameters (ReLU, LeakyReLU, ELU and
PReLU as one rectify kernel, Softmax over chosen axes) and glu: a thread per
value (per softmax row); the lowerings are shared (codegen/lowering.py)."""

from __future__ import annotations

import math
from typing import Any

from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.kernels import HALF, NEG_INF, ONE, ZERO, cuda
from layerc.codegen.cuda.launch import grid, launcher

RECTIFY = kernel("rectify", "x y size alpha period params exp")
SOFTMAX_AXIS = kernel("softmax_axis", "x y outer n inner log")
GLU = kernel("glu", "x y rows half")


@cuda.jit
def rectify(x, xo, y, yo, total, w, alpha, period, params, exp):
    threshold, top = w[params], w[params + 1]
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        v = x[xo + i]
        if v > threshold:
            y[yo + i] = top if v > top else (ZERO if v < ZERO else v)
        elif v <= threshold:
            d = v - threshold
            y[yo + i] = w[alpha + i % period] * (math.expm1(d) if exp else d)
        else:
            y[yo + i] = v


@launcher(RECTIFY)
def _rectify(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = o["size"] * batch
    if total:
        rectify[grid(total)](arena, o["x"] * batch, arena, o["y"] * batch, total, weights,
                             o["alpha"], o["period"], o["params"], o["exp"])


@cuda.jit
def softmax_axis(x, xo, y, yo, lines, n, inner, log):
    """A thread per line of n values at stride `inner`."""
    line = cuda.grid(1)
    if line >= lines:
        return
    base = (line // inner) * n * inner + line % inner
    top = NEG_INF
    for j in range(n):
        v = x[xo + base + j * inner]
        if v > top or math.isnan(v):
            top = v
    total = ZERO
    for j in range(n):
        total += math.exp(x[xo + base + j * inner] - top)
    shift = top + math.log(total)
    for j in range(n):
        v = x[xo + base + j * inner]
        y[yo + base + j * inner] = v - shift if log else math.exp(v - top) / total


@launcher(SOFTMAX_AXIS)
def _softmax_axis(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    lines = o["outer"] * o["inner"] * batch
    if lines:
        softmax_axis[grid(lines)](arena, o["x"] * batch, arena, o["y"] * batch, lines, o["n"],
                                  o["inner"], o["log"])


@cuda.jit
def glu(x, xo, y, yo, total, half):
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        a = xo + (i // half) * 2 * half + i % half
        y[yo + i] = x[a] * (HALF * (ONE + math.tanh(HALF * x[a + half])))


@launcher(GLU)
def _glu(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = o["rows"] * o["half"] * batch
    if total:
        glu[grid(total)](arena, o["x"] * batch, arena, o["y"] * batch, total, o["half"])
