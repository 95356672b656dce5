"""The activation layers with parameters: ReLU, LeakyReLU, ELU, PReLU,
Softmax. With an activation name's parameters (ReLU(), ReLU(max_value=6),
LeakyReLU(0.2), ELU(), Softmax()) they emit the plain Activation op, which
fuse-activation folds into the op before; other values run as ops of their
own (ir/ops/activation.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from layerc import initializers
from layerc.errors import ConfigError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.activations import LEAKY_SLOPE
from layerc.ir.ops.activation import EluAttrs, PreluAttrs, ReluAttrs, SoftmaxAttrs
from layerc.ir.ops.core import ActivationAttrs
from layerc.layers.base import Builder, Layer


def _number(layer: Layer, option: str, value: Any, low: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            low is not None and value < low):
        bound = "" if low is None else f" >= {low}"
        raise ConfigError(f"{layer.label()}: {option} must be a number{bound}, got {value!r}")
    return float(value)


def _activation(b: Builder, inputs: list[Port], name: str) -> list[Port]:
    return [b.add(OpKind.ACTIVATION, inputs, ActivationAttrs(name))]


class ReLU(Layer):
    """Keras's ReLU: x above `threshold` (clipped to `max_value`),
    negative_slope * (x - threshold) at or below it."""

    mask_mode = "pass"

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else _number(self, "max_value", max_value, 0)
        self.negative_slope = _number(self, "negative_slope", negative_slope, 0)
        self.threshold = _number(self, "threshold", threshold, 0)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        if self.negative_slope == 0 and self.threshold == 0 and self.max_value in (None, 6.0):
            return _activation(b, inputs, "relu" if self.max_value is None else "relu6")
        return [b.add(OpKind.RELU, inputs, ReluAttrs(self.negative_slope, self.max_value,
                                                     self.threshold))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """Keras's LeakyReLU: x, or negative_slope * x below zero (default 0.3,
    the layer's; the leaky_relu activation's is 0.2)."""

    mask_mode = "pass"

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:  # Keras's deprecated spelling
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _number(self, "negative_slope", negative_slope, 0)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        if self.negative_slope == LEAKY_SLOPE:
            return _activation(b, inputs, "leaky_relu")
        return [b.add(OpKind.RELU, inputs, ReluAttrs(self.negative_slope))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(Layer):
    """Keras's ELU: x above zero, alpha * (exp(x) - 1) below."""

    mask_mode = "pass"

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = _number(self, "alpha", alpha)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        if self.alpha == 1.0:
            return _activation(b, inputs, "elu")
        return [b.add(OpKind.ELU, inputs, EluAttrs(self.alpha))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """Keras's PReLU: x above zero, alpha * x below, alpha a weight shaped
    like the input with the shared axes 1. The regularizer and constraint
    shape training only."""

    mask_mode = "pass"

    def __init__(self, alpha_initializer: Any = "Zeros", alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, shared_axes: Sequence[int] | int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer, self.label())
        axes = [] if shared_axes is None else (
            [shared_axes] if isinstance(shared_axes, int) else list(shared_axes))
        if any(isinstance(a, bool) or not isinstance(a, int) or a < 1 for a in axes):
            raise ConfigError(f"{self.label()}: shared_axes must be positive axes (the batch "
                              f"axis 0 cannot be shared), got {shared_axes!r}")
        self.shared_axes = tuple(sorted(set(axes)))
        self.training_only = {"alpha_regularizer": alpha_regularizer,
                              "alpha_constraint": alpha_constraint}

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        self.add_weights_for(OpKind.PRELU, PreluAttrs(self.shared_axes), in_types,
                             [("alpha", self.alpha_initializer)])

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        return [b.add(OpKind.PRELU, inputs, PreluAttrs(self.shared_axes), ("alpha",))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "shared_axes": list(self.shared_axes) or None, **self.training_only}


class Softmax(Layer):
    """Keras's Softmax over `axis` (an int, or adjacent axes as a list). A
    mask reaching it is refused: Keras would add it to the logits."""

    mask_mode = "consume"

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        axes = [axis] if isinstance(axis, int) and not isinstance(axis, bool) else axis
        if not isinstance(axes, (list, tuple)) or not axes or any(
                isinstance(a, bool) or not isinstance(a, int) for a in axes):
            raise ConfigError(f"{self.label()}: axis must be an int or a list of ints, got "
                              f"{axis!r}")
        self.axis = axis if isinstance(axis, int) else list(axis)
        self._axes = tuple(axes)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        if b.mask is not None:
            raise ConfigError(f"{self.label(b.source)}: a mask reaches this Softmax; layerc "
                              f"does not add masks to softmax logits")
        x = inputs[0]
        rank = b.graph.type_of(x).rank
        axes = tuple(sorted({a % rank if -rank <= a < rank else a for a in self._axes}))
        if axes == (rank - 1,):
            return _activation(b, [x], "softmax")
        return [b.add(OpKind.SOFTMAX, [x], SoftmaxAttrs(axes))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]
