"""Rules for the merge ops: element-wise merges of equal shapes, concatenate, and
the batched matrix product behind Keras's Dot."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

import numpy as np

from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.ops import checks
from layerc.ir.registry import OpRule, ReferenceFn, register
from layerc.ir.types import TensorType


@dataclass(frozen=True, slots=True)
class MergeAttrs:
    """Element-wise merges take no options."""


def _infer_elementwise(a: MergeAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    first = ins[0]
    for t in ins[1:]:
        if t.shape != first.shape:
            shapes = ", ".join(str(t) for t in ins)
            raise ShapeError(f"expected inputs of one shape, got {shapes}")
    return (first,)


def _elementwise(fn: Callable[[list[np.ndarray]], np.ndarray]) -> ReferenceFn:
    def reference(a: MergeAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
        return [fn([x.astype(np.float64) for x in xs]).astype(np.float32)]
    return reference


_MERGES = {
    OpKind.ADD: (lambda xs: reduce(np.add, xs), (2, None)),
    OpKind.SUBTRACT: (lambda xs: xs[0] - xs[1], (2, 2)),
    OpKind.MULTIPLY: (lambda xs: reduce(np.multiply, xs), (2, None)),
    OpKind.AVERAGE: (lambda xs: reduce(np.add, xs) / len(xs), (2, None)),
    OpKind.MAXIMUM: (lambda xs: reduce(np.maximum, xs), (2, None)),
    OpKind.MINIMUM: (lambda xs: reduce(np.minimum, xs), (2, None)),
}

for _kind, (_fn, _arity) in _MERGES.items():
    register(OpRule(_kind, MergeAttrs, _infer_elementwise, _elementwise(_fn), arity=_arity,
                    flops=lambda a, ins, outs: (len(ins) - 1) * outs[0].sample_size))


# ----- Keras 3.15's Maximum, Minimum and Multiply of masked inputs, a pair at a time -----
@dataclass(frozen=True, slots=True)
class MaskedMergeAttrs:
    """Inputs: a and b (one shape), then the (batch, steps...) masks of those
    that have one (`masked`). Where b's mask is 0 the output is a; where a's
    alone is 0, b; else op(a, b) (Keras replaces a masked value by the other,
    or by 1 for Multiply). `zero`: where both masks are 0 the output is 0
    (Multiply's last pair when every input is masked)."""

    op: str  # "max", "min" or "mul" (codegen.codes.BINOPS)
    masked: tuple[bool, bool]
    zero: bool = False


def _infer_masked(a: MaskedMergeAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    if a.op not in ("max", "min", "mul") or not any(a.masked):
        raise ShapeError(f"a masked merge is max, min or mul with a mask, got {a}")
    if len(ins) != 2 + sum(a.masked):
        raise ShapeError(f"expected 2 inputs and {sum(a.masked)} mask(s), got {len(ins)} inputs")
    x, y, *masks = ins
    _infer_elementwise(MergeAttrs(), (x, y))
    for m in masks:
        if m.shape != x.shape[:-1]:
            raise ShapeError(f"expected a mask of shape {TensorType(x.shape[:-1])} (the "
                             f"input's axes but the last), got {m}")
    return (x,)


def _ref_masked(a: MaskedMergeAttrs, xs: list[np.ndarray], ws: list[np.ndarray]
                ) -> list[np.ndarray]:
    x, y = (v.astype(np.float64) for v in xs[:2])
    masks = iter(xs[2:])
    ma, mb = ((next(masks)[..., None] != 0) if m else np.ones(x.shape[:-1] + (1,), bool)
              for m in a.masked)
    op = {"max": np.maximum, "min": np.minimum, "mul": np.multiply}[a.op]
    out = np.where(mb, np.where(ma, op(x, y), y), np.where(ma | (not a.zero), x, 0.0))
    return [out.astype(np.float32)]


register(OpRule(OpKind.MASKED_MERGE, MaskedMergeAttrs, _infer_masked, _ref_masked,
                arity=(3, 4), mask_inputs=lambda a: tuple(range(2, 2 + sum(a.masked))),
                flops=lambda a, ins, outs: outs[0].sample_size))


@dataclass(frozen=True, slots=True)
class ConcatAttrs:
    axis: int  # normalized: 1 <= axis < rank


def _infer_concat(a: ConcatAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    first = ins[0]
    if not 1 <= a.axis < first.rank:
        raise ShapeError(f"axis {a.axis} is out of range for {first} (the batch axis is 0)")
    total = 0
    for t in ins:
        rest = t.shape[: a.axis] + t.shape[a.axis + 1:]
        if t.rank != first.rank or rest != first.shape[: a.axis] + first.shape[a.axis + 1:]:
            shapes = ", ".join(str(t) for t in ins)
            raise ShapeError(f"expected shapes that differ only on axis {a.axis}, got {shapes}")
        if t.shape[a.axis] is None:
            raise ShapeError(f"the concatenation axis must be known, got {t}")
        total += t.shape[a.axis]  # type: ignore[operator]
    shape = list(first.shape)
    shape[a.axis] = total
    return (TensorType(tuple(shape), first.dtype),)


register(OpRule(OpKind.CONCATENATE, ConcatAttrs, _infer_concat,
                lambda a, xs, ws: [np.concatenate(xs, axis=a.axis)], arity=(1, None)))


# ----- dot: a batched matrix product (Keras's Dot, its axes moved into place) -----
@dataclass(frozen=True, slots=True)
class DotAttrs:
    """x's last axis contracts with y's first sample axis after the `groups`
    leading sample axes both share (a product per group: attention's heads);
    the Dot layer moves the axes Keras names there (transposes before it)."""

    groups: int = 0  # leading sample axes that index independent products


def dot_sizes(x: TensorType, y: TensorType, groups: int = 0) -> tuple[int, int, int, int]:
    """(groups, rows, k, cols) of each sample's products: per group x as
    (rows, k), y as (k, cols)."""
    if x.rank < 2 + groups or y.rank < 2 + groups or any(
            d is None for d in (*x.sample_shape, *y.sample_shape)):
        raise ShapeError(f"a dot product needs inputs with known sample axes, got {x} and {y}")
    if x.shape[1:1 + groups] != y.shape[1:1 + groups]:
        raise ShapeError(f"the group axes differ: {x} and {y} ({groups} leading axes)")
    if x.shape[-1] != y.shape[1 + groups]:
        raise ShapeError(f"the contracted axes differ: {x.shape[-1]} (last of {x}) and "
                         f"{y.shape[1 + groups]} (axis {1 + groups} of {y})")
    g = math.prod(x.shape[1:1 + groups])  # type: ignore[arg-type]
    k: int = x.shape[-1]  # type: ignore[assignment]
    return g, x.sample_size // (k * g), k, y.sample_size // (k * g)


def _infer_dot(a: DotAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    x, y = ins
    checks.non_negative("groups", a.groups)
    dot_sizes(x, y, a.groups)
    if x.rank == 2 and y.rank == 2:  # Keras keeps one axis: (batch, 1)
        return (TensorType((None, 1)),)
    return (TensorType((None, *x.shape[1:-1], *y.shape[2 + a.groups:])),)


def _ref_dot(a: DotAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    x, y = (v.astype(np.float64) for v in xs)
    types = (TensorType((None, *x.shape[1:])), TensorType((None, *y.shape[1:])))
    g, rows, k, cols = dot_sizes(*types, a.groups)
    out = np.einsum("bgik,bgkj->bgij", x.reshape(len(x), g, rows, k),
                    y.reshape(len(y), g, k, cols))
    shape = _infer_dot(a, types)
    return [out.reshape(len(x), *shape[0].shape[1:]).astype(np.float32)]


register(OpRule(OpKind.DOT, DotAttrs, _infer_dot, _ref_dot, arity=(2, 2), sums_products=True,
                flops=lambda a, ins, outs: 2 * math.prod(dot_sizes(ins[0], ins[1], a.groups))))
