"""CUDA: batch normalization, rescaling and Keras's Normalization as a scale
and shift per channel or value (computed at lowering: codegen/lowering.py),
a thread per value, its activation fused unless it needs whole rows
(softmax: the row kernel after it); layer, RMS, unit and group
normalization by the moments of each group, a thread per group."""

from __future__ import annotations

import math
from typing import Any

from layerc.codegen import lowering
from layerc.codegen.cuda.emitter import Emitter, kernel
from layerc.codegen.cuda.kernels import ONE, ZERO, act_scalar, cuda, float32
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


# ----- layer, RMS, unit and group normalization: a thread per group -----
MOMENTS = kernel("moments", "x y a r1 k r2 gamma beta gs1 gsk gs2 gdiv eps mode")


@cuda.jit
def moments(x, xo, y, yo, groups, r1, k, r2, w, gamma, beta, gs1, gsk, gs2, gdiv, eps, mode):
    """codegen/cpu/ops/normalization.py's normalize_groups, one group per thread."""
    g = cuda.grid(1)
    if g >= groups:
        return
    ai, kk = g // k, g % k
    base = ai * r1 * k * r2 + kk * r2
    count = float32(r1 * r2)
    total = ZERO
    for i1 in range(r1):
        for i2 in range(r2):
            total += x[xo + base + i1 * k * r2 + i2]
    mean = total / count
    spread = ZERO
    for i1 in range(r1):
        for i2 in range(r2):
            d = x[xo + base + i1 * k * r2 + i2] - mean
            spread += d * d
    shift = mean if mode == 0 else ZERO
    if mode == 2:
        inv = ONE / math.sqrt(spread + count * mean * mean)
        cap = ONE / w[eps]
        inv = cap if inv > cap else inv
    elif mode == 3:
        inv = ONE / math.sqrt(spread / count + mean * mean + w[eps])
    else:
        inv = ONE / math.sqrt(spread / count + w[eps])
    for i1 in range(r1):
        for i2 in range(r2):
            at = base + i1 * k * r2 + i2
            v = (x[xo + at] - shift) * inv
            p = i1 * gs1 + kk * gsk + (i2 // gdiv) * gs2
            if gamma >= 0:
                v *= w[gamma + p]
            if beta >= 0:
                v += w[beta + p]
            y[yo + at] = v


@launcher(MOMENTS)
def _moments(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    groups = o["a"] * o["k"] * batch
    if groups:
        moments[grid(groups)](arena, o["x"] * batch, arena, o["y"] * batch, groups, o["r1"],
                              o["k"], o["r2"], weights, o["gamma"], o["beta"], o["gs1"], o["gsk"],
                              o["gs2"], o["gdiv"], o["eps"], o["mode"])
