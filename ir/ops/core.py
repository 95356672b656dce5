"""Rules for the core ops: input, dense, activation, dropout, flatten, reshape,
and the view/transpose ops the fold-reshape pass produces."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from layerc.ir import activations
from layerc.ir.errors import ConfigError, ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.ops import checks
from layerc.ir.ops.spatial import FORMATS
from layerc.ir.registry import OpRule, register
from layerc.ir.types import TensorType

F32 = np.float32
INPUT_DTYPES = ("float32", "int32", "int64")  # what layerc.Input takes


def _known(t: TensorType, what: str) -> None:
    if any(d is None for d in t.sample_shape):
        raise ShapeError(f"{what} needs every non-batch dimension known, got {t}")


# ----- input -----
@dataclass(frozen=True, slots=True)
class InputAttrs:
    shape: tuple[int | None, ...]  # without the batch axis
    dtype: str = "float32"
    batch_size: int | None = None


def _infer_input(a: InputAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    checks.non_negative("the input shape", *(d for d in a.shape if d is not None))
    checks.one_of("dtype", a.dtype, INPUT_DTYPES)
    if a.batch_size is not None:
        checks.positive("batch_size", a.batch_size)
    return (TensorType((None, *a.shape), a.dtype),)


register(OpRule(OpKind.INPUT, InputAttrs, _infer_input,
                reference=lambda a, xs, ws: xs, arity=(0, 0)))


# ----- dense -----
@dataclass(frozen=True, slots=True)
class DenseAttrs:
    units: int
    use_bias: bool = True
    activation: str = "linear"


def _infer_dense(a: DenseAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    checks.positive("units", a.units)
    checks.activation("activation", a.activation)
    if x.rank < 2:
        raise ShapeError(f"expected input rank >= 2, got {x}")
    if x.shape[-1] is None:
        raise ShapeError(f"the last axis of the input must be known, got {x}")
    return (TensorType((*x.shape[:-1], a.units)),)


def _dense_weights(a: DenseAttrs, ins: tuple[TensorType, ...]) -> tuple[tuple[int, ...], ...]:
    kernel = (ins[0].shape[-1], a.units)  # inference checked the last axis is known
    return (kernel, (a.units,)) if a.use_bias else (kernel,)  # type: ignore[return-value]


def _ref_dense(a: DenseAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    y = xs[0].astype(np.float64) @ ws[0].astype(np.float64)
    if a.use_bias:
        y = y + ws[1]
    return [activations.apply(a.activation, y)]


def _dense_flops(a: DenseAttrs, ins: tuple[TensorType, ...], outs: tuple[TensorType, ...]) -> int:
    return 2 * outs[0].sample_size * ins[0].shape[-1]  # type: ignore[operator]


register(OpRule(OpKind.DENSE, DenseAttrs, _infer_dense, _ref_dense, _dense_weights,
                epilogue=True, sums_products=True, flops=_dense_flops,
                output_channels=lambda a, rank: rank - 1))


# ----- activation -----
@dataclass(frozen=True, slots=True)
class ActivationAttrs:
    activation: str


def _infer_activation(a: ActivationAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    checks.activation("activation", a.activation)
    return (ins[0],)


register(OpRule(OpKind.ACTIVATION, ActivationAttrs, _infer_activation,
                lambda a, xs, ws: [activations.apply(a.activation, xs[0])],
                flops=lambda a, ins, outs: outs[0].sample_size))


# ----- dropout (identity at inference) -----
@dataclass(frozen=True, slots=True)
class DropoutAttrs:
    rate: float
    noise_shape: tuple[int | None, ...] | None = None
    seed: int | None = None


def _infer_dropout(a: DropoutAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    if not 0.0 <= a.rate <= 1.0:
        raise ConfigError(f"rate must lie in [0, 1], got {a.rate}")
    return (ins[0],)


register(OpRule(OpKind.DROPOUT, DropoutAttrs, _infer_dropout, lambda a, xs, ws: [xs[0]],
                rearranges=True))


# ----- flatten -----
@dataclass(frozen=True, slots=True)
class FlattenAttrs:
    data_format: str = "channels_last"


def _infer_flatten(a: FlattenAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    checks.one_of("data_format", a.data_format, FORMATS)
    if x.rank < 2:
        raise ShapeError(f"expected input rank >= 2, got {x}")
    _known(x, "Flatten")
    return (TensorType((None, x.sample_size), x.dtype),)


def _ref_flatten(a: FlattenAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    x = xs[0]
    if a.data_format == "channels_first" and x.ndim > 2:
        x = np.moveaxis(x, 1, -1)
    return [np.ascontiguousarray(x).reshape(x.shape[0], -1)]


register(OpRule(OpKind.FLATTEN, FlattenAttrs, _infer_flatten, _ref_flatten, rearranges=True))


# ----- reshape -----
@dataclass(frozen=True, slots=True)
class ReshapeAttrs:
    target_shape: tuple[int, ...]  # without the batch axis; one entry may be -1


def resolve_target(target: tuple[int, ...], size: int) -> tuple[int, ...]:
    """Fills in the -1 of a reshape target, or raises ShapeError."""
    if list(target).count(-1) > 1 or any(d < -1 for d in target):
        raise ShapeError(f"target shape {target} has more than one -1, or a size below -1")
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape {size} values per sample to {target}")
        return tuple(size // known if d == -1 else d for d in target)
    if known != size:
        raise ShapeError(f"cannot reshape {size} values per sample to {target} ({known} values)")
    return tuple(target)


def _infer_reshape(a: ReshapeAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    _known(x, "Reshape")
    return (TensorType((None, *resolve_target(a.target_shape, x.sample_size)), x.dtype),)


def _ref_reshape(a: ReshapeAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    return [xs[0].reshape(xs[0].shape[0], *a.target_shape)]


register(OpRule(OpKind.RESHAPE, ReshapeAttrs, _infer_reshape, _ref_reshape, rearranges=True))


# ----- view: a zero-copy reshape of a contiguous buffer -----
@dataclass(frozen=True, slots=True)
class ViewAttrs:
    shape: tuple[int, ...]  # without the batch axis, fully known


def _infer_view(a: ViewAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    _known(x, "view")
    checks.non_negative("the view's shape", *a.shape)
    if math.prod(a.shape) != x.sample_size:
        raise ShapeError(f"cannot view {x} as {a.shape}")
    return (TensorType((None, *a.shape), x.dtype),)


register(OpRule(OpKind.VIEW, ViewAttrs, _infer_view,
                lambda a, xs, ws: [xs[0].reshape(xs[0].shape[0], *a.shape)], is_view=True,
                rearranges=True))


# ----- transpose of the sample axes -----
@dataclass(frozen=True, slots=True)
class TransposeAttrs:
    perm: tuple[int, ...]  # over all axes; perm[0] == 0 keeps the batch first


def _infer_transpose(a: TransposeAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    if sorted(a.perm) != list(range(x.rank)) or a.perm[0] != 0:
        raise ShapeError(f"permutation {a.perm} does not fit {x}")
    return (TensorType(tuple(x.shape[i] for i in a.perm), x.dtype),)


register(OpRule(OpKind.TRANSPOSE, TransposeAttrs, _infer_transpose,
                lambda a, xs, ws: [np.ascontiguousarray(np.transpose(xs[0], a.perm))],
                rearranges=True))


# ----- masking: the steps whose features all equal a value are skipped -----
@dataclass(frozen=True, slots=True)
class MaskingAttrs:
    mask_value: float = 0.0


def _infer_masking(a: MaskingAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    if x.rank != 3 or x.shape[-1] is None:
        raise ShapeError(f"expected a (batch, steps, features) input with the features known "
                         f"(the mask is per step), got {x}")
    return (x, TensorType(x.shape[:-1]))


def _ref_masking(a: MaskingAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    """Keras's Masking: mask = any(x != mask_value) over the last axis; the
    output is x times the mask."""
    keep = np.any(xs[0] != a.mask_value, axis=-1)
    return [xs[0] * keep[..., None].astype(np.float32), keep.astype(np.float32)]


register(OpRule(OpKind.MASKING, MaskingAttrs, _infer_masking, _ref_masking,
                mask_outputs=lambda a: (1,), flops=lambda a, ins, outs: outs[0].sample_size))
