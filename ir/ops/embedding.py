"""Rules for embedding lookups: integer indices -> rows of a table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.ops import checks
from layerc.ir.registry import OpRule, register
from layerc.ir.types import TensorType


@dataclass(frozen=True, slots=True)
class EmbeddingAttrs:
    input_dim: int  # indices lie in [0, input_dim)
    output_dim: int
    mask_zero: bool = False  # a second output: the mask, 0 where the index is 0


def _infer_embedding(a: EmbeddingAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    checks.positive("input_dim", a.input_dim)
    checks.positive("output_dim", a.output_dim)
    if x.rank < 1:
        raise ShapeError(f"expected a batch of indices, got {x}")
    values = TensorType((*x.shape, a.output_dim))
    return (values, TensorType(x.shape)) if a.mask_zero else (values,)


def _embedding_weights(a: EmbeddingAttrs,
                       ins: tuple[TensorType, ...]) -> tuple[tuple[int, ...], ...]:
    return ((a.input_dim, a.output_dim),)


def _ref_embedding(a: EmbeddingAttrs, xs: list[np.ndarray],
                   ws: list[np.ndarray]) -> list[np.ndarray]:
    # Keras casts the indices to int (float indices truncate toward zero).
    indices = np.asarray(xs[0]).astype(np.int64)
    values = ws[0][indices].astype(np.float32)
    return [values, (indices != 0).astype(np.float32)] if a.mask_zero else [values]


register(OpRule(OpKind.EMBEDDING, EmbeddingAttrs, _infer_embedding, _ref_embedding,
                _embedding_weights, mask_outputs=lambda a: (1,) if a.mask_zero else (),
                index_bound=lambda a: a.input_dim))
