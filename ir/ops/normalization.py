"""Rules for the normalization ops: batch normalization at inference, a
per-channel scale and shift from the moving statistics."""

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
