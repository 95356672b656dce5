"""Rules for the normalization ops: batch normalization at inference (a
per-channel scale and shift from the moving statistics) and rescaling (a
scale and an offset, one or one per channel of the last axis)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from layerc.ir import activations
from layerc.ir.errors import ShapeError
from layerc.ir.ops.blocks import adjacent_axes, axes_block
from layerc.ir.opkind import OpKind
from layerc.ir.ops import checks
from layerc.ir.registry import OpRule, register
from layerc.ir.types import TensorType


@dataclass(frozen=True, slots=True)
class BatchNormAttrs:
    axis: int  # the channel axis of the input, counting the batch axis (>= 1)
    epsilon: float = 1e-3
    center: bool = True  # a beta (offset) weight
    scale: bool = True  # a gamma (scale) weight
    activation: str = "linear"  # an epilogue fuse-activation may set


def _channels(a: BatchNormAttrs, x: TensorType) -> int:
    if not 1 <= a.axis < x.rank:
        raise ShapeError(f"axis {a.axis} is not a non-batch axis of the input {x}")
    c = x.shape[a.axis]
    if c is None:
        raise ShapeError(f"the normalized axis {a.axis} of the input must be known, got {x}")
    return c


def _infer_batch_norm(a: BatchNormAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    checks.activation("activation", a.activation)
    _channels(a, ins[0])
    return (ins[0],)


def _batch_norm_weights(a: BatchNormAttrs,
                        ins: tuple[TensorType, ...]) -> tuple[tuple[int, ...], ...]:
    """Keras's order: gamma (if scale), beta (if center), moving mean, moving
    variance, each one value per channel."""
    c = (_channels(a, ins[0]),)
    return (c,) * (int(a.scale) + int(a.center) + 2)


def scale_and_shift(a: BatchNormAttrs, ws: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The per-channel (s, t) with batch_norm(x) = x * s + t, in float64:
    s = gamma / sqrt(variance + epsilon), t = beta - mean * s. What the
    kernels apply and what fold-batchnorm folds into a kernel and bias."""
    ws = [np.asarray(w, np.float64) for w in ws]
    gamma = ws[0] if a.scale else 1.0
    beta = ws[int(a.scale)] if a.center else 0.0
    mean, variance = ws[-2], ws[-1]
    s = gamma / np.sqrt(variance + a.epsilon)
    return np.broadcast_to(s, mean.shape), np.broadcast_to(beta - mean * s, mean.shape)


def _ref_batch_norm(a: BatchNormAttrs, xs: list[np.ndarray],
                    ws: list[np.ndarray]) -> list[np.ndarray]:
    """Keras's inference formula, (x - mean) / sqrt(variance + epsilon) *
    gamma + beta over the channel axis, in float64."""
    x = xs[0].astype(np.float64)
    shape = [1] * x.ndim
    shape[a.axis] = x.shape[a.axis]
    w = [np.asarray(v, np.float64).reshape(shape) for v in ws]
    y = (x - w[-2]) / np.sqrt(w[-1] + a.epsilon)
    if a.scale:
        y = y * w[0]
    if a.center:
        y = y + w[int(a.scale)]
    return [activations.apply(a.activation, y)]


register(OpRule(OpKind.BATCH_NORM, BatchNormAttrs, _infer_batch_norm, _ref_batch_norm,
                _batch_norm_weights, epilogue=True,
                flops=lambda a, ins, outs: 2 * outs[0].sample_size))


@dataclass(frozen=True, slots=True)
class RescaleAttrs:
    scale: tuple[float, ...]  # one value, or one per channel of the last axis
    offset: tuple[float, ...] = (0.0,)
    activation: str = "linear"  # an epilogue fuse-activation may set


def rescale_vectors(a: RescaleAttrs, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """The per-channel (s, t) of y = x * s + t over `channels` last-axis values."""
    return (np.broadcast_to(np.asarray(a.scale, np.float64), (channels,)),
            np.broadcast_to(np.asarray(a.offset, np.float64), (channels,)))


def _infer_rescale(a: RescaleAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    checks.activation("activation", a.activation)
    c = x.shape[-1]
    for name, values in (("scale", a.scale), ("offset", a.offset)):
        if len(values) != 1 and (c is None or len(values) != c):
            raise ShapeError(f"{name} has {len(values)} values; expected 1 or one per channel "
                             f"of the last axis of the input {x}")
    return (x,)


def _ref_rescale(a: RescaleAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    """Keras's x * scale + offset, over the last axis, in float64."""
    y = xs[0].astype(np.float64) * np.asarray(a.scale) + np.asarray(a.offset)
    return [activations.apply(a.activation, y)]


register(OpRule(OpKind.RESCALE, RescaleAttrs, _infer_rescale, _ref_rescale, epilogue=True,
                flops=lambda a, ins, outs: 2 * outs[0].sample_size))


# ----- layer, RMS and unit normalization: moments over adjacent axes -----
# rms: LayerNormalization(rms_scaling=True), x / sqrt(var + eps) (Keras's
# var, about the mean); unit: x / sqrt(sum of squares), Keras's L2
# normalize; mean_square: RMSNormalization, x / sqrt(mean of squares + eps).
NORM_MODES = ("layer", "rms", "unit", "mean_square")
UNIT_EPSILON = 1e-12  # Keras's UnitNormalization


@dataclass(frozen=True, slots=True)
class LayerNormAttrs:
    # adjacent sample axes (batch axis 0), in the order of gamma's and beta's
    # axes (Keras's: the axes as given, sorted as numbers, so -1 before 1)
    axes: tuple[int, ...]
    epsilon: float = 1e-3
    center: bool = True  # a beta weight (not with rms)
    scale: bool = True  # a gamma weight
    mode: str = "layer"  # NORM_MODES


def norm_block(axes: tuple[int, ...], x: TensorType) -> tuple[int, int, int]:
    """The sample seen as (outer, n, inner), normalized over n."""
    return axes_block(axes, x, "normalization")


def _infer_layer_norm(a: LayerNormAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    checks.one_of("mode", a.mode, NORM_MODES)
    _normalized_shape(a, ins[0])
    return (ins[0],)


def _normalized_shape(a: LayerNormAttrs, x: TensorType) -> tuple[int, ...]:
    """The normalized axes' sizes (known; the others may vary: the model is
    then specialized per shape, and lowering asks norm_block)."""
    adjacent_axes(a.axes, x, "normalization")
    shape = tuple(x.shape[axis] for axis in a.axes)
    if any(d is None for d in shape):
        raise ShapeError(f"the normalized axes {a.axes} must be known, got {x}")
    return shape  # type: ignore[return-value]


def _layer_norm_weights(a: LayerNormAttrs,
                        ins: tuple[TensorType, ...]) -> tuple[tuple[int, ...], ...]:
    """Keras's order: gamma (scale), beta (center), shaped like the axes."""
    shape = _normalized_shape(a, ins[0])
    return (shape,) * (int(a.scale) + int(a.center and a.mode == "layer"))


def _ref_layer_norm(a: LayerNormAttrs, xs: list[np.ndarray],
                    ws: list[np.ndarray]) -> list[np.ndarray]:
    """Keras 3.15's formulas in float64: (x - mean) / sqrt(var + eps) * gamma
    + beta; rms_scaling x / sqrt(var + eps) * gamma (Keras's var, about the
    mean); unit x * min(1 / sqrt(sum x^2), 1 / 1e-12); mean_square (Keras's
    RMSNormalization) x / sqrt(mean x^2 + eps) * scale."""
    x = xs[0].astype(np.float64)
    axes = tuple(a.axes)
    if a.mode == "unit":
        inv = np.minimum(1.0 / np.sqrt(np.sum(x * x, axis=axes, keepdims=True)),
                         1.0 / UNIT_EPSILON)
        return [(x * inv).astype(np.float32)]
    shape = [1] * x.ndim
    for axis in axes:
        shape[axis] = x.shape[axis]
    mean = np.mean(x, axis=axes, keepdims=True)
    var = np.mean(x * x, axis=axes, keepdims=True) if a.mode == "mean_square" else \
        np.var(x, axis=axes, keepdims=True)
    y = (x - mean if a.mode == "layer" else x) / np.sqrt(var + a.epsilon)
    if a.scale:
        y = y * np.asarray(ws[0], np.float64).reshape(shape)
    if a.center and a.mode == "layer":
        y = y + np.asarray(ws[int(a.scale)], np.float64).reshape(shape)
    return [y.astype(np.float32)]


register(OpRule(OpKind.LAYER_NORM, LayerNormAttrs, _infer_layer_norm, _ref_layer_norm,
                _layer_norm_weights, flops=lambda a, ins, outs: 5 * outs[0].sample_size))


# ----- group normalization: moments over the spatial axes and a group of channels -----
@dataclass(frozen=True, slots=True)
class GroupNormAttrs:
    groups: int
    axis: int  # the channel axis (batch axis 0)
    epsilon: float = 1e-3
    center: bool = True
    scale: bool = True


def group_block(a: GroupNormAttrs, x: TensorType) -> tuple[int, int, int, int]:
    """The sample seen as (outer, groups, per_group, inner): normalized over
    outer x per_group x inner for each group."""
    checks.positive("groups", a.groups)
    c = _channels(BatchNormAttrs(a.axis), x)
    if c % a.groups:
        raise ShapeError(f"{a.groups} groups do not divide the {c} channels of {x}")
    if any(d is None for d in x.sample_shape):
        raise ShapeError(f"group normalization needs every sample axis known, got {x}")
    dims = x.sample_shape
    return (math.prod(dims[:a.axis - 1]), a.groups, c // a.groups,  # type: ignore[arg-type]
            math.prod(dims[a.axis:]))  # type: ignore[arg-type]


def _infer_group_norm(a: GroupNormAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    group_block(a, ins[0])
    return (ins[0],)


def _ref_group_norm(a: GroupNormAttrs, xs: list[np.ndarray],
                    ws: list[np.ndarray]) -> list[np.ndarray]:
    x = xs[0].astype(np.float64)
    outer, groups, per, inner = group_block(a, TensorType((None, *x.shape[1:])))
    g = x.reshape(len(x), outer, groups, per, inner)
    mean = g.mean(axis=(1, 3, 4), keepdims=True)
    var = g.var(axis=(1, 3, 4), keepdims=True)
    y = ((g - mean) / np.sqrt(var + a.epsilon)).reshape(x.shape)
    shape = [1] * x.ndim
    shape[a.axis] = x.shape[a.axis]
    if a.scale:
        y = y * np.asarray(ws[0], np.float64).reshape(shape)
    if a.center:
        y = y + np.asarray(ws[int(a.scale)], np.float64).reshape(shape)
    return [y.astype(np.float32)]


register(OpRule(OpKind.GROUP_NORM, GroupNormAttrs, _infer_group_norm, _ref_group_norm,
                lambda a, ins: ((group_block(a, ins[0])[1] * group_block(a, ins[0])[2],),)
                * (int(a.scale) + int(a.center)),
                flops=lambda a, ins, outs: 5 * outs[0].sample_size))


# ----- Keras's Normalization preprocessing layer: given or adapted statistics -----
NORMALIZE_EPSILON = 1e-7  # Keras's backend.epsilon(), the floor of the standard deviation


@dataclass(frozen=True, slots=True)
class NormalizeAttrs:
    invert: bool = False


def _infer_normalize(a: NormalizeAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    _known_sample(ins[0])
    return (ins[0],)


def _known_sample(x: TensorType) -> tuple[int, ...]:
    if any(d is None for d in x.sample_shape):
        raise ShapeError(f"normalization needs every sample axis known, got {x}")
    return x.sample_shape  # type: ignore[return-value]


def normalize_vectors(a: NormalizeAttrs, ws: list[np.ndarray],
                      sample: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(s, t) with normalize(x) = x * s + t per sample value, in float64:
    s = 1 / max(sqrt(var), eps), t = -mean * s; inverted s = max(sqrt(var),
    eps), t = mean."""
    mean, var = (np.broadcast_to(np.asarray(w, np.float64), sample) for w in ws)
    std = np.maximum(np.sqrt(var), NORMALIZE_EPSILON)
    return (std, mean) if a.invert else (1.0 / std, -mean / std)


def _ref_normalize(a: NormalizeAttrs, xs: list[np.ndarray],
                   ws: list[np.ndarray]) -> list[np.ndarray]:
    """Keras's (x - mean) / max(sqrt(var), eps), or mean + x * max(sqrt(var), eps)."""
    x = xs[0].astype(np.float64)
    mean, var = (np.asarray(w, np.float64) for w in ws)
    std = np.maximum(np.sqrt(var), NORMALIZE_EPSILON)
    return [(mean + x * std if a.invert else (x - mean) / std).astype(np.float32)]


register(OpRule(OpKind.NORMALIZE, NormalizeAttrs, _infer_normalize, _ref_normalize,
                lambda a, ins: (_known_sample(ins[0]),) * 2,
                flops=lambda a, ins, outs: 2 * outs[0].sample_size))
