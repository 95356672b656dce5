"""Convolution layers: Conv1D, Conv2D, Conv3D (with groups), DepthwiseConv1D/2D,
SeparableConv1D/2D, Conv1DTranspose/Conv2DTranspose/Conv3DTranspose, and the
Keras 1 names Convolution1D/2D.

A depthwise convolution is a convolution of one group per input channel
(depth_multiplier filters each): its kernel is Keras's (*kernel, channels,
depth_multiplier), which in memory is the grouped kernel (*kernel, 1,
channels * depth_multiplier) the IR holds, filter c * depth_multiplier + m
of group c; get_weights / set_weights show Keras's shape. A separable
convolution is a depthwise convolution then a 1x1 one (two conv nodes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerc import activations, initializers
from layerc.config import standardize_data_format
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType, rule_for
from layerc.ir.ops.conv import ConvAttrs
from layerc.ir.ops.conv_transpose import ConvTransposeAttrs
from layerc.layers.base import Builder, Layer
from layerc.layers.core import TRAINING_ONLY, emit_activation, kernel_and_bias, positive_int
from layerc.layers.spatial_options import KERAS1_RENAMES, int_tuple, keras1_aliases
from layerc.layers.spatial_options import padding as parse_padding


class _Windowed(Layer):
    """The window options every convolution takes, set and checked as Keras
    does: kernel_size, strides, padding, data_format, dilation_rate (strides
    and dilation never both above 1)."""

    rank = 0
    kernel_size: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str
    data_format: str
    dilation_rate: tuple[int, ...]

    def _window_options(self, kernel_size: Any, strides: Any, padding: str,
                        paddings: tuple[str, ...], data_format: str | None,
                        dilation_rate: Any) -> None:
        label = self.label()
        self.kernel_size = int_tuple(label, "kernel_size", kernel_size, self.rank)
        self.strides = int_tuple(label, "strides", strides, self.rank)
        self.padding = parse_padding(label, padding, paddings)
        self.data_format = standardize_data_format(label, data_format)
        self.dilation_rate = int_tuple(label, "dilation_rate", dilation_rate, self.rank)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(f"{label}: strides {self.strides} > 1 together with "
                              f"dilation_rate {self.dilation_rate} > 1 is not allowed")

    def _window_config(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate}


class _Conv(_Windowed):
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
        self._window_options(kernel_size, strides, padding, self.paddings, data_format,
                             dilation_rate)
        self.groups = positive_int(self, "groups", groups)
        if self.filters % self.groups:
            raise ConfigError(f"{label}: filters={self.filters} must be a multiple of "
                              f"groups={self.groups}")
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
                         self.dilation_rate, self.data_format, self.use_bias,
                         groups=self.groups)

    def _roles(self) -> list[tuple[str, Any]]:
        return kernel_and_bias(self.use_bias, self.kernel_initializer, self.bias_initializer)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        self.add_weights_for(OpKind.CONV, self._attrs(), in_types, self._roles())

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        weights = tuple(role for role, _ in self._roles())
        y = b.add(OpKind.CONV, inputs, self._attrs(), weights)
        return [emit_activation(b, y, self.activation)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, **self._window_config(),
                "groups": self.groups,
                "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **self.training_only}


class Conv1D(_Conv):
    rank = 1
    paddings = ("valid", "same", "causal")


class Conv2D(_Conv):
    rank = 2


class Conv3D(_Conv):
    rank = 3


class _Depthwise(_Windowed):
    """The depthwise part shared by DepthwiseConv and SeparableConv: options,
    the grouped attrs over an input, and the kernel shown in Keras's shape."""

    paddings: tuple[str, ...] = ("valid", "same")

    def _depthwise_options(self, kernel_size: Any, strides: Any, padding: str,
                           depth_multiplier: int, data_format: str | None,
                           dilation_rate: Any) -> None:
        self._window_options(kernel_size, strides, padding, self.paddings, data_format,
                             dilation_rate)
        self.depth_multiplier = positive_int(self, "depth_multiplier", depth_multiplier)

    def _depthwise_attrs(self, x: TensorType, use_bias: bool) -> ConvAttrs:
        channels = x.shape[1] if self.data_format == "channels_first" else x.shape[-1]
        if x.rank != self.rank + 2 or channels is None:
            raise ShapeError(f"{self.label()}: expected input rank {self.rank + 2} with known "
                             f"channels, got {x}")
        return ConvAttrs(channels * self.depth_multiplier, self.kernel_size, self.strides,
                         self.padding, self.dilation_rate, self.data_format, use_bias,
                         groups=channels)

    def _keras_kernel(self, kernel: np.ndarray) -> np.ndarray:
        """The grouped (*kernel, 1, channels * m) kernel as Keras's (*kernel, channels, m)."""
        return kernel.reshape(*self.kernel_size, -1, self.depth_multiplier)

    def get_weights(self) -> list[np.ndarray]:
        weights = super().get_weights()
        weights[0] = self._keras_kernel(weights[0])
        return weights

    def set_weights(self, weights: Any) -> None:
        weights = list(weights)
        if self.built and weights and np.shape(weights[0]) == \
                self._keras_kernel(next(iter(self._weights.values()))).shape:
            weights[0] = np.reshape(weights[0], next(iter(self._weights.values())).shape)
        super().set_weights(weights)

    def _depthwise_config(self) -> dict[str, Any]:
        return {**self._window_config(), "depth_multiplier": self.depth_multiplier}


class _DepthwiseConv(_Depthwise):
    def __init__(self, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 depth_multiplier: int = 1, data_format: str | None = None,
                 dilation_rate: Any = 1, activation: Any = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        self._depthwise_options(kernel_size, strides, padding, depth_multiplier, data_format,
                                dilation_rate)
        self.activation = activations.get(activation, label)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer, label)
        self.bias_initializer = initializers.get(bias_initializer, label)
        self.training_only = {
            "depthwise_regularizer": depthwise_regularizer, "bias_regularizer": bias_regularizer,
            "activity_regularizer": activity_regularizer,
            "depthwise_constraint": depthwise_constraint, "bias_constraint": bias_constraint}

    def _roles(self) -> list[tuple[str, Any]]:
        return kernel_and_bias(self.use_bias, self.depthwise_initializer, self.bias_initializer)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        self.add_weights_for(OpKind.CONV, self._depthwise_attrs(in_types[0], self.use_bias),
                             in_types, self._roles())

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        attrs = self._depthwise_attrs(b.graph.type_of(inputs[0]), self.use_bias)
        y = b.add(OpKind.CONV, inputs, attrs, tuple(role for role, _ in self._roles()))
        return [emit_activation(b, y, self.activation)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._depthwise_config(),
                "activation": self.activation, "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **self.training_only}


class DepthwiseConv1D(_DepthwiseConv):
    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    rank = 2


class _SeparableConv(_Depthwise):
    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: str | None = None,
                 dilation_rate: Any = 1, depth_multiplier: int = 1, activation: Any = None,
                 use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform",
                 pointwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, pointwise_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 depthwise_constraint: Any = None, pointwise_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        self.filters = positive_int(self, "filters", filters)
        self._depthwise_options(kernel_size, strides, padding, depth_multiplier, data_format,
                                dilation_rate)
        self.activation = activations.get(activation, label)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer, label)
        self.pointwise_initializer = initializers.get(pointwise_initializer, label)
        self.bias_initializer = initializers.get(bias_initializer, label)
        self.training_only = {
            "depthwise_regularizer": depthwise_regularizer,
            "pointwise_regularizer": pointwise_regularizer, "bias_regularizer": bias_regularizer,
            "activity_regularizer": activity_regularizer,
            "depthwise_constraint": depthwise_constraint,
            "pointwise_constraint": pointwise_constraint, "bias_constraint": bias_constraint}

    def _pointwise_attrs(self) -> ConvAttrs:
        ones = (1,) * self.rank
        return ConvAttrs(self.filters, ones, ones, "valid", ones, self.data_format,
                         self.use_bias)

    def _pointwise_roles(self) -> list[tuple[str, Any]]:
        return [("pointwise_kernel", self.pointwise_initializer)] + (
            [("bias", self.bias_initializer)] if self.use_bias else [])

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        depthwise = self._depthwise_attrs(in_types[0], False)
        self.add_weights_for(OpKind.CONV, depthwise, in_types,
                             [("depthwise_kernel", self.depthwise_initializer)])
        try:
            middle = rule_for(OpKind.CONV).infer(depthwise, in_types)
        except ShapeError:
            return  # the call reports it, naming the layer
        self.add_weights_for(OpKind.CONV, self._pointwise_attrs(), middle,
                             self._pointwise_roles())

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        depthwise = self._depthwise_attrs(b.graph.type_of(inputs[0]), False)
        middle = b.add(OpKind.CONV, inputs, depthwise, ("depthwise_kernel",))
        y = b.add(OpKind.CONV, [middle], self._pointwise_attrs(),
                  tuple(role for role, _ in self._pointwise_roles()))
        return [emit_activation(b, y, self.activation)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, **self._depthwise_config(),
                "activation": self.activation, "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **self.training_only}


class SeparableConv1D(_SeparableConv):
    rank = 1


class SeparableConv2D(_SeparableConv):
    rank = 2


class _ConvTranspose(_Windowed):
    """Keras's transposed convolution (ir/ops/conv_transpose.py): the kernel
    is (*kernel_size, filters, channels), as Keras stores it."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", output_padding: Any = None,
                 data_format: str | None = None, dilation_rate: Any = 1,
                 activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        self.filters = positive_int(self, "filters", filters)
        self._window_options(kernel_size, strides, padding, ("valid", "same"), data_format,
                             dilation_rate)
        self.output_padding = None if output_padding is None else \
            int_tuple(label, "output_padding", output_padding, self.rank, minimum=0)
        if self.output_padding is not None and any(
                p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ConfigError(f"{label}: output_padding {self.output_padding} must be below "
                              f"the strides {self.strides} on every axis")
        self.activation = activations.get(activation, label)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, label)
        self.bias_initializer = initializers.get(bias_initializer, label)
        self.training_only = dict(zip(TRAINING_ONLY, (
            kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            bias_constraint)))

    def _attrs(self) -> ConvTransposeAttrs:
        return ConvTransposeAttrs(self.filters, self.kernel_size, self.strides, self.padding,
                                  self.output_padding, self.dilation_rate, self.data_format,
                                  self.use_bias)

    def _roles(self) -> list[tuple[str, Any]]:
        return kernel_and_bias(self.use_bias, self.kernel_initializer, self.bias_initializer)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        self.add_weights_for(OpKind.CONV_TRANSPOSE, self._attrs(), in_types, self._roles())

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        y = b.add(OpKind.CONV_TRANSPOSE, inputs, self._attrs(),
                  tuple(role for role, _ in self._roles()))
        return [emit_activation(b, y, self.activation)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, **self._window_config(),
                "output_padding": self.output_padding, "activation": self.activation,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **self.training_only}


class Conv1DTranspose(_ConvTranspose):
    rank = 1


class Conv2DTranspose(_ConvTranspose):
    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """Keras 3.15's Conv3DTranspose takes data_format before output_padding
    (the 1-D and 2-D layers take it after), so its positional arguments keep
    that order here too."""

    rank = 3

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: str | None = None,
                 output_padding: Any = None, **kwargs: Any) -> None:
        super().__init__(filters, kernel_size, strides, padding, output_padding=output_padding,
                         data_format=data_format, **kwargs)


# Keras's aliases
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = (
    Conv1DTranspose, Conv2DTranspose, Conv3DTranspose)


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

__all__ = ["Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose",
           "Convolution1D", "Convolution1DTranspose", "Convolution2D", "Convolution2DTranspose",
           "Convolution3DTranspose", "DepthwiseConv1D",
           "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"]
