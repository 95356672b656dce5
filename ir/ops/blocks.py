"""A block of adjacent sample axes, and the sample seen around it as
(outer, n, inner): how the ops over chosen axes (softmax, layer and unit
normalization) address their values."""

from __future__ import annotations

import math

from layerc.ir.errors import ShapeError
from layerc.ir.types import TensorType


def adjacent_axes(axes: tuple[int, ...], x: TensorType, what: str) -> tuple[int, ...]:
    """`axes` sorted, checked to be one block of adjacent sample axes of x."""
    block = tuple(sorted(axes))
    if not block or any(not 1 <= axis < x.rank for axis in block) or list(block) != list(
            range(block[0], block[-1] + 1)):
        raise ShapeError(f"{what} axes {block} must be adjacent sample axes of the input {x} "
                         f"(layerc works over one block of adjacent axes)")
    return block


def axes_block(axes: tuple[int, ...], x: TensorType, what: str) -> tuple[int, int, int]:
    """The sample of x as (outer, n, inner), n the values of the axes block."""
    block = adjacent_axes(axes, x, what)
    dims = x.sample_shape
    if any(d is None for d in dims):
        raise ShapeError(f"{what} over axes {block} needs every sample axis known, got {x}")
    lo, hi = block[0] - 1, block[-1]
    return (math.prod(dims[:lo]), math.prod(dims[lo:hi]),  # type: ignore[arg-type]
            math.prod(dims[hi:]))  # type: ignore[arg-type]
