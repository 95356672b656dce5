"""CUDA: batch normalization and rescaling as a per-channel scale and shift
(computed at lowering: codegen/lowering.py), a thread per value,
its activation fused unless it needs whole rows (softmax: the row kernel
after it)."""

from __future__ import annotations

from typing import Any

from layerc.codegen import lowering
from layerc.codegen.cuda.emitter import Emitter, kernel
from layerc.codegen.cuda.kernels import act_scalar, cuda
from layerc.codegen.cuda.launch import grid, launcher
from layerc.codegen.cuda.lower import lowers
from layerc.codegen.cuda.ops.core import fused, row_epilogue
from layerc.ir import Node, OpKind

SCALE_SHIFT = kernel("scale_shift", "x y outer c inner row scale shift act")


@cuda.jit
def scale_shift(x, xo, y, yo, total, c, inner, w, so, to, act):
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        ch = (i // inner) % c
        y[yo + i] = act_scalar(x[xo + i] * w[so + ch] + w[to + ch], act)


@launcher(SCALE_SHIFT)
def _scale_shift(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = o["outer"] * o["c"] * o["inner"] * batch
    if total:
        scale_shift[grid(total)](arena, o["x"] * batch, arena, o["y"] * batch, total, o["c"],
                                 o["inner"], weights, o["scale"], o["shift"], o["act"])


@lowers(OpKind.BATCH_NORM, OpKind.RESCALE)
def lower_scale_shift(e: Emitter, node: Node) -> None:
    operands = lowering.scale_shift_operands(e, node)
    act = operands.pop("act")
    e.launch(SCALE_SHIFT, node, **operands, act=fused(act))
    size = operands["outer"] * operands["c"] * operands["inner"]
    row_epilogue(e, node, operands["y"], size, operands["row"], act)
