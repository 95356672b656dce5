"""Rules for the normalization ops: batch normalization at inference (a
per-channel scale and shift from the moving statistics) and rescaling (a
scale and an offset, one or one per channel of the last axis)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerc.ir import activations
from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
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
