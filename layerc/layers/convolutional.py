"""Convolution layers: Conv1D, Conv2D, and the Keras 1 names Convolution1D/2D."""

from __future__ import annotations

from typing import Any

from layerc import activations, initializers
from layerc.config import standardize_data_format
from layerc.errors import ConfigError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.conv import ConvAttrs
from layerc.layers.base import Builder, Layer
from layerc.layers.core import TRAINING_ONLY, emit_activation, kernel_and_bias, positive_int
from layerc.layers.spatial_options import KERAS1_RENAMES, int_tuple, keras1_aliases
from layerc.layers.spatial_options import padding as parse_padding


class _Conv(Layer):
    rank = 0
    paddings: tuple[str, ...] = ("valid", "same")

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: str | None = None,
                 dilation_rate: Any = 1, groups: int = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None,
                 lora_rank: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        self.filters = positive_int(self, "filters", filters)
        self.kernel_size = int_tuple(label, "kernel_size", kernel_size, self.rank)
        self.strides = int_tuple(label, "strides", strides, self.rank)
        self.padding = parse_padding(label, padding, self.paddings)
        self.data_format = standardize_data_format(label, data_format)
        self.dilation_rate = int_tuple(label, "dilation_rate", dilation_rate, self.rank)
        if groups != 1:
            raise ConfigError(f"{label}: groups={groups!r} is not supported (only 1)")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(f"{label}: strides {self.strides} > 1 together with "
                              f"dilation_rate {self.dilation_rate} > 1 is not allowed")
        if lora_rank is not None:
            raise ConfigError(f"{label}: lora_rank is not supported (inference-only)")
        self.activation = activations.get(activation, label)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, label)
        self.bias_initializer = initializers.get(bias_initializer, label)
        self.training_only = dict(zip(TRAINING_ONLY, (
            kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            bias_constraint)))

    def _attrs(self) -> ConvAttrs:
        return ConvAttrs(self.filters, self.kernel_size, self.strides, self.padding,
                         self.dilation_rate, self.data_format, self.use_bias)

    def _roles(self) -> list[tuple[str, Any]]:
        return kernel_and_bias(self.use_bias, self.kernel_initializer, self.bias_initializer)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        self.add_weights_for(OpKind.CONV, self._attrs(), in_types, self._roles())

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        weights = tuple(role for role, _ in self._roles())
        y = b.add(OpKind.CONV, inputs, self._attrs(), weights)
        return [emit_activation(b, y, self.activation)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": 1,
                "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **self.training_only}


class Conv1D(_Conv):
    rank = 1
    paddings = ("valid", "same", "causal")


class Conv2D(_Conv):
    rank = 2


class Convolution1D(Conv1D):
    """Keras 1: Convolution1D(nb_filter, filter_length, border_mode=..., subsample_length=...)."""

    def __init__(self, filters: Any = None, kernel_size: Any = None, **kwargs: Any) -> None:
        kwargs = keras1_aliases(kwargs, {**KERAS1_RENAMES, "filter_length": "kernel_size",
                                         "subsample_length": "strides"})
        if filters is not None:
            kwargs["filters"] = filters
        if kernel_size is not None:
            kwargs["kernel_size"] = kernel_size
        super().__init__(**kwargs)


class Convolution2D(Conv2D):
    """Keras 1: Convolution2D(nb_filter, nb_row, nb_col, border_mode=..., subsample=...);
    the Keras 2 signature Convolution2D(filters, kernel_size, ...) works too."""

    def __init__(self, filters: Any = None, kernel_size: Any = None, nb_col: Any = None,
                 **kwargs: Any) -> None:
        kwargs = keras1_aliases(kwargs, {**KERAS1_RENAMES, "subsample": "strides"})
        nb_row = kwargs.pop("nb_row", None)
        if nb_row is not None:
            if kernel_size is not None:
                raise ConfigError("Convolution2D: give nb_row or kernel_size, not both")
            kernel_size = nb_row
        if nb_col is not None:
            kernel_size = (kernel_size, nb_col)
        if filters is not None:
            kwargs["filters"] = filters
        if kernel_size is not None:
            kwargs["kernel_size"] = kernel_size
        super().__init__(**kwargs)

__all__ = ["Conv1D", "Conv2D", "Convolution1D", "Convolution2D"]
