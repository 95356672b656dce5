"""Rules for the merge ops: element-wise merges of equal shapes, and concatenate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

import numpy as np

from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
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
