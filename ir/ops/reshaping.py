"""Rules for the reshaping ops that move values: RepeatVector's repeat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.registry import OpRule, register
from layerc.ir.types import TensorType


@dataclass(frozen=True, slots=True)
class RepeatAttrs:
    n: int  # (batch, features) -> (batch, n, features)


def _infer_repeat(a: RepeatAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    if x.rank != 2 or x.shape[1] is None:
        raise ShapeError(f"expected a (batch, features) input with the features known, got {x}")
    return (TensorType((None, a.n, x.shape[1]), x.dtype),)


def _ref_repeat(a: RepeatAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    return [np.repeat(xs[0][:, None, :], a.n, axis=1)]


register(OpRule(OpKind.REPEAT, RepeatAttrs, _infer_repeat, _ref_repeat, rearranges=True))
