"""Locally-connected layers: convolutions without weight sharing (see
ir/ops/local.py for the semantics layerc defines, since Keras 3 dropped them)."""

from __future__ import annotations

from typing import Any

from layerc import activations, initializers
from layerc.config import standardize_data_format
from layerc.errors import ConfigError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.local import LocalAttrs
from layerc.layers.base import Builder, Layer
from layerc.layers.core import TRAINING_ONLY, emit_activation, kernel_and_bias, positive_int
from layerc.layers.spatial_options import int_tuple


class _Local(Layer):
    rank = 0

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: str | None = None,
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, implementation: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        self.filters = positive_int(self, "filters", filters)
        self.kernel_size = int_tuple(label, "kernel_size", kernel_size, self.rank)
        self.strides = int_tuple(label, "strides", strides, self.rank)
        if padding != "valid":
            raise ConfigError(f"{label}: padding={padding!r} is not supported; locally "
                              f"connected layers take 'valid' only")
        if implementation not in (1, 2, 3):
            raise ConfigError(f"{label}: implementation must be 1, 2 or 3 (all compute the "
                              f"same numbers), got {implementation!r}")
        self.implementation = implementation
        self.data_format = standardize_data_format(label, data_format)
        self.activation = activations.get(activation, label)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, label)
        self.bias_initializer = initializers.get(bias_initializer, label)
        self.training_only = dict(zip(TRAINING_ONLY, (
            kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            bias_constraint)))

    def _attrs(self) -> LocalAttrs:
        return LocalAttrs(self.filters, self.kernel_size, self.strides, self.data_format,
                          self.use_bias)

    def _roles(self) -> list[tuple[str, Any]]:
        return kernel_and_bias(self.use_bias, self.kernel_initializer, self.bias_initializer)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        self.add_weights_for(OpKind.LOCAL, self._attrs(), in_types, self._roles())

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        weights = tuple(role for role, _ in self._roles())
        y = b.add(OpKind.LOCAL, inputs, self._attrs(), weights)
        return [emit_activation(b, y, self.activation)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides, "padding": "valid",
                "data_format": self.data_format, "activation": self.activation,
                "use_bias": self.use_bias, "implementation": self.implementation,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **self.training_only}


class LocallyConnected1D(_Local):
    rank = 1


class LocallyConnected2D(_Local):
    rank = 2

__all__ = ["LocallyConnected1D", "LocallyConnected2D"]
