"""CUDA: the reshaping ops that move values (RepeatVector's repeat): a thread
per output value; the lowering is shared (codegen/lowering.py)."""

from __future__ import annotations

from typing import Any

from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.kernels import cuda
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
