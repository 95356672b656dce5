"""Normalization layers: BatchNormalization (inference: the moving
statistics) and Rescaling."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerc import initializers
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.normalization import BatchNormAttrs, RescaleAttrs
from layerc.layers.base import Builder, Layer


class BatchNormalization(Layer):
    """Keras's BatchNormalization at inference: (x - moving_mean) /
    sqrt(moving_variance + epsilon) * gamma + beta over the `axis` channel
    axis. momentum, the regularizers, constraints and `synchronized` shape
    training only: accepted and kept in the config. Batch renormalization
    (renorm=True) is refused. A mask passes through, as in Keras."""

    mask_mode = "pass"

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, synchronized: bool = False,
                 renorm: bool = False, renorm_clipping: Any = None,
                 renorm_momentum: float = 0.99, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"{label}: axis must be an int (one channel axis), got {axis!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ConfigError(f"{label}: epsilon must be a positive number, got {epsilon!r}")
        if renorm:
            raise ConfigError(f"{label}: renorm=True (batch renormalization) is not supported")
        self.axis = axis
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.initializers = {
            "gamma": initializers.get(gamma_initializer, label),
            "beta": initializers.get(beta_initializer, label),
            "moving_mean": initializers.get(moving_mean_initializer, label),
            "moving_variance": initializers.get(moving_variance_initializer, label)}
        self.training_only = {"momentum": momentum, "beta_regularizer": beta_regularizer,
                              "gamma_regularizer": gamma_regularizer,
                              "beta_constraint": beta_constraint,
                              "gamma_constraint": gamma_constraint,
                              "synchronized": synchronized, "renorm": False,
                              "renorm_clipping": renorm_clipping,
                              "renorm_momentum": renorm_momentum}

    def _roles(self) -> list[tuple[str, Any]]:
        """Keras's weight order: gamma, beta, moving mean, moving variance."""
        roles = ["gamma"] * self.scale + ["beta"] * self.center + ["moving_mean",
                                                                   "moving_variance"]
        return [(role, self.initializers[role]) for role in roles]

    def _attrs(self, x: TensorType, source: Any = None) -> BatchNormAttrs:
        if not -x.rank <= self.axis < x.rank or self.axis % x.rank == 0:
            raise ShapeError(f"{self.label(source)}: axis {self.axis} is not a channel axis of "
                             f"the input {x} (the batch axis cannot be normalized)")
        return BatchNormAttrs(self.axis % x.rank, self.epsilon, self.center, self.scale)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        try:
            attrs = self._attrs(in_types[0])
        except ShapeError:
            return  # reported with the call's position when the op is emitted
        self.add_weights_for(OpKind.BATCH_NORM, attrs, in_types, self._roles())

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        attrs = self._attrs(b.graph.type_of(inputs[0]), b.source)
        roles = tuple(role for role, _ in self._roles())
        return [b.add(OpKind.BATCH_NORM, inputs, attrs, roles)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                **{f"{role}_initializer": initializers.serialize(init)
                   for role, init in self.initializers.items()},
                **self.training_only}


def _values(layer: Layer, option: str, value: Any) -> tuple[float, ...]:
    """A number, or a 1-D sequence of numbers (one per channel of the last axis)."""
    array = np.asarray(value, dtype=object)
    if array.ndim > 1 or array.size == 0 or not all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
            for v in array.reshape(-1)):
        raise ConfigError(f"{layer.label()}: {option} must be a number or a 1-D sequence of "
                          f"numbers (one per channel of the last axis), got {value!r}")
    return tuple(float(v) for v in array.reshape(-1))


class Rescaling(Layer):
    """Keras's Rescaling: x * scale + offset, each a number or one value per
    channel of the last axis (Keras's default channels-last image format). A
    mask passes through."""

    mask_mode = "pass"

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = _values(self, "scale", scale)
        self.offset = _values(self, "offset", offset)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        return [b.add(OpKind.RESCALE, inputs, RescaleAttrs(self.scale, self.offset))]

    def get_config(self) -> dict[str, Any]:
        def spelled(values: tuple[float, ...]) -> Any:
            return values[0] if len(values) == 1 else list(values)

        return {**super().get_config(), "scale": spelled(self.scale),
                "offset": spelled(self.offset)}


__all__ = ["BatchNormalization", "Rescaling"]
