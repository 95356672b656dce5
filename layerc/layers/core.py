"""Core layers: Dense, Activation, Dropout, Flatten, Reshape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from layerc import activations, initializers
from layerc.config import standardize_data_format
from layerc.errors import ConfigError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.activation import GluAttrs
from layerc.ir.ops.core import (ActivationAttrs, DenseAttrs, DropoutAttrs, FlattenAttrs,
                                MaskingAttrs, ReshapeAttrs)
from layerc.layers.base import Builder, Layer

# Options that shape training only: accepted, kept in the config, no effect here.
TRAINING_ONLY = ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                  "kernel_constraint", "bias_constraint")


def positive_int(layer: Layer, option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{layer.label()}: {option} must be a positive int, got {value!r}")
    return value


def kernel_and_bias(use_bias: bool, kernel: Any, bias: Any) -> list[tuple[str, Any]]:
    """The weight roles (and initializers) of a layer with a kernel and maybe a bias."""
    return [("kernel", kernel), ("bias", bias)] if use_bias else [("kernel", kernel)]


def emit_activation(b: Builder, x: Port, activation: str) -> Port:
    """The activation op a layer applies after its main op (fused later;
    glu, which halves the last axis, is an op of its own)."""
    if activation == "linear":
        return x
    if activation == "glu":
        return b.add(OpKind.GLU, [x], GluAttrs())
    return b.add(OpKind.ACTIVATION, [x], ActivationAttrs(activation))


class Dense(Layer):
    mask_mode = "pass"
    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = positive_int(self, "units", units)
        self.activation = activations.get(activation, self.label())
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, self.label())
        self.bias_initializer = initializers.get(bias_initializer, self.label())
        if lora_rank is not None:
            raise ConfigError(f"{self.label()}: lora_rank is not supported (layerc is "
                              f"inference-only; merge the LoRA weights into the kernel)")
        self.training_only = dict(zip(TRAINING_ONLY, (
            kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            bias_constraint)))

    def _roles(self) -> list[tuple[str, Any]]:
        return kernel_and_bias(self.use_bias, self.kernel_initializer, self.bias_initializer)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        self.add_weights_for(OpKind.DENSE, DenseAttrs(self.units, self.use_bias), in_types,
                             self._roles())

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        weights = tuple(role for role, _ in self._roles())
        y = b.add(OpKind.DENSE, inputs, DenseAttrs(self.units, self.use_bias), weights)
        return [emit_activation(b, y, self.activation)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **self.training_only}


class Activation(Layer):
    mask_mode = "pass"
    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation, self.label())

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        return [emit_activation(b, inputs[0], self.activation)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation}


class Identity(Layer):
    """Keras's Identity: the input, its mask passed on (a Dropout of rate 0
    in the IR, which drop-dropout removes)."""

    mask_mode = "pass"

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        return [b.add(OpKind.DROPOUT, inputs, DropoutAttrs(0.0))]


class Dropout(Layer):
    """Dropout is the identity at inference; its options are checked and kept."""

    mask_mode = "pass"

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ConfigError(f"{self.label()}: rate must be a number in [0, 1], got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        x = b.graph.type_of(inputs[0])
        if self.noise_shape is not None and len(self.noise_shape) != x.rank:
            raise ConfigError(f"{self.label(b.source)}: noise_shape {self.noise_shape} must "
                              f"have the input's rank {x.rank} ({x})")
        return [b.add(OpKind.DROPOUT, inputs, DropoutAttrs(self.rate, self.noise_shape,
                                                           self.seed))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class Flatten(Layer):
    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(self.label(), data_format)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        return [b.add(OpKind.FLATTEN, inputs, FlattenAttrs(self.data_format))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(target_shape, int):
            target_shape = (target_shape,)
        target = tuple(target_shape)
        for d in target:
            if isinstance(d, bool) or not isinstance(d, int) or (d <= 0 and d != -1):
                raise ConfigError(f"{self.label()}: target_shape entries must be positive "
                                  f"ints or one -1, got {target}")
        if target.count(-1) > 1:
            raise ConfigError(f"{self.label()}: target_shape {target} has more than one -1")
        self.target_shape = target

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        return [b.add(OpKind.RESHAPE, inputs, ReshapeAttrs(self.target_shape))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": self.target_shape}

class Masking(Layer):
    """Keras's Masking: a step whose features all equal mask_value is zeroed
    and masked (the mask reaches the recurrent layers after it)."""

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)):
            raise ConfigError(f"{self.label()}: mask_value must be a number, got "
                              f"{mask_value!r}")
        self.mask_value = float(mask_value)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        values = b.add(OpKind.MASKING, inputs, MaskingAttrs(self.mask_value))
        b.out_mask = Port(values.node, 1)
        return [values]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}


__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Identity", "Masking", "Reshape"]
