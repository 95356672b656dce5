"""Rules for the activation layers with parameters (Keras's ReLU, LeakyReLU,
ELU, PReLU, Softmax over chosen axes) and glu, which halves the last axis.
The layers emit the plain Activation op when their parameters are an
activation name's defaults, so that fuse-activation can fold them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerc.ir import activations
from layerc.ir.errors import ShapeError
from layerc.ir.ops.blocks import axes_block
from layerc.ir.opkind import OpKind
from layerc.ir.registry import OpRule, register
from layerc.ir.types import TensorType


def _same_type(a: object, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    return (ins[0],)


def _per_value(a: object, ins: tuple[TensorType, ...], outs: tuple[TensorType, ...]) -> int:
    return outs[0].sample_size


@dataclass(frozen=True, slots=True)
class ReluAttrs:
    negative_slope: float = 0.0
    max_value: float | None = None
    threshold: float = 0.0


def relu_reference(a: ReluAttrs, x: np.ndarray) -> np.ndarray:
    """Keras's relu(x, negative_slope, max_value, threshold): x above the
    threshold (clipped to [0, max_value]), negative_slope * (x - threshold)
    at or below it."""
    top = np.inf if a.max_value is None else a.max_value
    return np.where(x > a.threshold, np.clip(x, 0.0, top), a.negative_slope * (x - a.threshold))


register(OpRule(OpKind.RELU, ReluAttrs, _same_type,
                lambda a, xs, ws: [relu_reference(a, xs[0].astype(np.float64))
                                   .astype(np.float32)],
                flops=_per_value))


@dataclass(frozen=True, slots=True)
class EluAttrs:
    alpha: float = 1.0


register(OpRule(OpKind.ELU, EluAttrs, _same_type,
                lambda a, xs, ws: [np.where(xs[0] > 0, xs[0].astype(np.float64),
                                            a.alpha * np.expm1(np.minimum(xs[0], 0.0)))
                                   .astype(np.float32)],
                flops=_per_value))


@dataclass(frozen=True, slots=True)
class PreluAttrs:
    shared_axes: tuple[int, ...] = ()  # axes (batch axis 0) where one alpha serves all


def prelu_alpha_shape(a: PreluAttrs, x: TensorType) -> tuple[int, ...]:
    """alpha's shape: the sample shape with the shared axes 1."""
    for axis in a.shared_axes:
        if not 1 <= axis < x.rank:
            raise ShapeError(f"shared axis {axis} is not a sample axis of the input {x}")
    dims = tuple(1 if axis in a.shared_axes else d for axis, d in enumerate(x.shape) if axis)
    if any(d is None for d in dims):
        raise ShapeError(f"alpha needs every axis that is not shared known, got {x}")
    return dims  # type: ignore[return-value]


register(OpRule(OpKind.PRELU, PreluAttrs, _same_type,
                lambda a, xs, ws: [np.where(xs[0] > 0, xs[0], ws[0] * xs[0].astype(np.float64))
                                   .astype(np.float32)],
                lambda a, ins: (prelu_alpha_shape(a, ins[0]),), flops=_per_value))


@dataclass(frozen=True, slots=True)
class SoftmaxAttrs:
    axes: tuple[int, ...]  # sorted, adjacent sample axes (batch axis 0)
    log: bool = False


def softmax_block(a: SoftmaxAttrs, x: TensorType) -> tuple[int, int, int]:
    """The sample seen as (outer, n, inner) with the softmax over n."""
    return axes_block(a.axes, x, "softmax")


def _infer_softmax(a: SoftmaxAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    softmax_block(a, ins[0])
    return (ins[0],)


def _ref_softmax(a: SoftmaxAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    outer, n, inner = softmax_block(a, TensorType((None, *xs[0].shape[1:])))
    x = xs[0].reshape(-1, n, inner).transpose(0, 2, 1)
    y = activations.apply("log_softmax" if a.log else "softmax", x)
    return [np.ascontiguousarray(y.transpose(0, 2, 1)).reshape(xs[0].shape)]


register(OpRule(OpKind.SOFTMAX, SoftmaxAttrs, _infer_softmax, _ref_softmax, flops=_per_value))


@dataclass(frozen=True, slots=True)
class GluAttrs:
    pass


def _infer_glu(a: GluAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (x,) = ins
    n = x.shape[-1]
    if x.rank < 2 or n is None or n % 2:
        raise ShapeError(f"glu halves the last axis, which must be known and even; got {x}")
    return (TensorType((*x.shape[:-1], n // 2), x.dtype),)


def _ref_glu(a: GluAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    x = xs[0].astype(np.float64)
    half = x.shape[-1] // 2
    return [(x[..., :half] * activations.apply("sigmoid", x[..., half:])).astype(np.float32)]


register(OpRule(OpKind.GLU, GluAttrs, _infer_glu, _ref_glu, flops=_per_value))
