"""Rules for the reshaping ops that move values: RepeatVector's repeat, zero
padding, cropping, upsampling (nearest and bilinear), the broadcast the
merges insert and the reverse (of time) Bidirectional inserts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.ops import checks
from layerc.ir.registry import OpRule, register
from layerc.ir.types import TensorType


@dataclass(frozen=True, slots=True)
class RepeatAttrs:
    n: int  # (batch, features) -> (batch, n, features)


def _infer_repeat(a: RepeatAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    checks.positive("n", a.n)
    if x.rank != 2 or x.shape[1] is None:
        raise ShapeError(f"expected a (batch, features) input with the features known, got {x}")
    return (TensorType((None, a.n, x.shape[1]), x.dtype),)


def _ref_repeat(a: RepeatAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    return [np.repeat(xs[0][:, None, :], a.n, axis=1)]


register(OpRule(OpKind.REPEAT, RepeatAttrs, _infer_repeat, _ref_repeat, rearranges=True))


# ----- zero padding, cropping, nearest upsampling, broadcasting: each moves
# values by a fixed index map, one entry per sample axis -----
def _per_axis(values: tuple, x: TensorType, what: str) -> None:
    if len(values) != x.rank - 1:
        raise ShapeError(f"{what} gives {len(values)} sample axes; the input {x} has "
                         f"{x.rank - 1}")


@dataclass(frozen=True, slots=True)
class PadAttrs:
    pads: tuple[tuple[int, int], ...]  # (before, after) zeros per sample axis


def _infer_pad(a: PadAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    _per_axis(a.pads, x, "the padding")
    checks.pairs("pads", a.pads)
    dims = tuple(None if d is None else d + lo + hi
                 for d, (lo, hi) in zip(x.sample_shape, a.pads))
    return (TensorType((None, *dims), x.dtype),)


def _ref_pad(a: PadAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    return [np.pad(xs[0], ((0, 0), *a.pads))]


register(OpRule(OpKind.PAD, PadAttrs, _infer_pad, _ref_pad, rearranges=True))


@dataclass(frozen=True, slots=True)
class CropAttrs:
    crops: tuple[tuple[int, int], ...]  # (before, after) values dropped per sample axis


def _infer_crop(a: CropAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    _per_axis(a.crops, x, "the cropping")
    checks.pairs("crops", a.crops)
    dims = []
    for axis, (d, (lo, hi)) in enumerate(zip(x.sample_shape, a.crops), 1):
        if d is not None and lo + hi >= d:
            raise ShapeError(f"cropping {lo} + {hi} values from axis {axis} of size {d} "
                             f"leaves nothing (input {x})")
        dims.append(None if d is None else d - lo - hi)
    return (TensorType((None, *dims), x.dtype),)


def _ref_crop(a: CropAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    index = tuple(slice(lo, d - hi) for d, (lo, hi) in zip(xs[0].shape[1:], a.crops))
    return [np.ascontiguousarray(xs[0][(slice(None),) + index])]


register(OpRule(OpKind.CROP, CropAttrs, _infer_crop, _ref_crop, rearranges=True))


@dataclass(frozen=True, slots=True)
class UpsampleAttrs:
    """Nearest upsampling: each value repeated; Keras's other interpolations
    are the resize op (ir/ops/resize.py)."""

    size: tuple[int, ...]  # repeats per sample axis (1 for the channels)


def _infer_upsample(a: UpsampleAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    _per_axis(a.size, x, "the upsampling")
    checks.positive("size", *a.size)
    dims = tuple(None if d is None else d * s for d, s in zip(x.sample_shape, a.size))
    return (TensorType((None, *dims), x.dtype),)


def _ref_upsample(a: UpsampleAttrs, xs: list[np.ndarray],
                  ws: list[np.ndarray]) -> list[np.ndarray]:
    y = xs[0]
    for axis, s in enumerate(a.size, 1):
        y = np.repeat(y, s, axis=axis)
    return [y]


register(OpRule(OpKind.UPSAMPLE, UpsampleAttrs, _infer_upsample, _ref_upsample))


@dataclass(frozen=True, slots=True)
class BroadcastAttrs:
    shape: tuple[int, ...]  # the sample shape; the input's axes of size 1 repeat


def _infer_broadcast(a: BroadcastAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    _per_axis(a.shape, x, "the broadcast shape")
    checks.non_negative("shape", *a.shape)
    for axis, (d, n) in enumerate(zip(x.sample_shape, a.shape), 1):
        if d not in (1, n):
            raise ShapeError(f"axis {axis} of size {d} does not broadcast to {n} (input {x})")
    return (TensorType((None, *a.shape), x.dtype),)


register(OpRule(OpKind.BROADCAST, BroadcastAttrs, _infer_broadcast,
                lambda a, xs, ws: [np.ascontiguousarray(
                    np.broadcast_to(xs[0], (xs[0].shape[0], *a.shape)))],
                rearranges=True))


@dataclass(frozen=True, slots=True)
class ReverseAttrs:
    axis: int  # a sample axis (batch axis 0), read from its end


def _infer_reverse(a: ReverseAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    if not 1 <= a.axis < x.rank:
        raise ShapeError(f"axis {a.axis} is not a sample axis of {x}")
    return (x,)


register(OpRule(OpKind.REVERSE, ReverseAttrs, _infer_reverse,
                lambda a, xs, ws: [np.ascontiguousarray(np.flip(xs[0], axis=a.axis))],
                rearranges=True))
