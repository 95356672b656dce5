"""Normalization layers: BatchNormalization (inference: the moving
statistics), LayerNormalization, GroupNormalization, UnitNormalization,
Normalization (given or adapted statistics) and Rescaling."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerc import initializers
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.normalization import (BatchNormAttrs, GroupNormAttrs, LayerNormAttrs,
                                         NormalizeAttrs, RescaleAttrs)
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


def _epsilon(layer: Layer, epsilon: Any) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon <= 0:
        raise ConfigError(f"{layer.label()}: epsilon must be a positive number, got {epsilon!r}")
    return float(epsilon)


def _axes(layer: Layer, axis: Any) -> tuple[int, ...]:
    """An int or a list of ints, as Keras's layers take `axis`."""
    axes = [axis] if isinstance(axis, int) and not isinstance(axis, bool) else axis
    if not isinstance(axes, (list, tuple)) or not axes or any(
            isinstance(a, bool) or not isinstance(a, int) for a in axes):
        raise ConfigError(f"{layer.label()}: axis must be an int or a list of ints, got "
                          f"{axis!r}")
    return tuple(axes)


def _sample_axes(layer: Layer, axes: tuple[int, ...], x: TensorType,
                 source: Any = None) -> tuple[int, ...]:
    """Axes of either sign as sorted non-batch axes of x."""
    if any(not -x.rank <= a < x.rank or a % x.rank == 0 for a in axes):
        raise ShapeError(f"{layer.label(source)}: axis {axes} is not made of sample axes of "
                         f"the input {x} (the batch axis cannot be normalized)")
    return tuple(sorted({a % x.rank for a in axes}))


class _GammaBeta(Layer):
    """A normalization with an optional gamma (scale) and beta (center), as
    Keras's Layer and Group Normalization have: their initializers, the
    training-only regularizers and constraints, and the build and emit of
    `op` over `_attrs`."""

    mask_mode = "pass"
    op: OpKind
    epsilon: float
    center: bool
    scale: bool

    def _gamma_beta(self, gamma_initializer: Any, beta_initializer: Any,
                    gamma_regularizer: Any, beta_regularizer: Any, gamma_constraint: Any,
                    beta_constraint: Any) -> None:
        label = self.label()
        self.initializers = {"gamma": initializers.get(gamma_initializer, label),
                             "beta": initializers.get(beta_initializer, label)}
        self.training_only = {"beta_regularizer": beta_regularizer,
                              "gamma_regularizer": gamma_regularizer,
                              "beta_constraint": beta_constraint,
                              "gamma_constraint": gamma_constraint}

    def _attrs(self, x: TensorType, source: Any = None) -> Any:
        raise NotImplementedError

    def _roles(self, attrs: Any) -> list[tuple[str, Any]]:
        """gamma with scale; beta with center (not under RMS scaling)."""
        beta = attrs.center and getattr(attrs, "mode", "layer") == "layer"
        roles = ["gamma"] * attrs.scale + ["beta"] * beta
        return [(role, self.initializers[role]) for role in roles]

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        try:
            attrs = self._attrs(in_types[0])
        except ShapeError:
            return  # reported with the call's position when the op is emitted
        self.add_weights_for(self.op, attrs, in_types, self._roles(attrs))

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        attrs = self._attrs(b.graph.type_of(inputs[0]), b.source)
        roles = tuple(role for role, _ in self._roles(attrs))
        return [b.add(self.op, inputs, attrs, roles)]

    def _options(self) -> dict[str, Any]:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._options(), "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                **{f"{role}_initializer": initializers.serialize(init)
                   for role, init in self.initializers.items()}, **self.training_only}


class LayerNormalization(_GammaBeta):
    """Keras's LayerNormalization over `axis` (adjacent axes), with gamma
    (scale) and beta (center), or rms_scaling (gamma only, Keras 3.15's
    x / sqrt(var + epsilon) * gamma). A mask passes through."""

    op = OpKind.LAYER_NORM

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, rms_scaling: bool = False, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else list(_axes(self, axis))
        self._axes = _axes(self, axis)
        self.epsilon = _epsilon(self, epsilon)
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        self._gamma_beta(gamma_initializer, beta_initializer, gamma_regularizer,
                         beta_regularizer, gamma_constraint, beta_constraint)

    def _attrs(self, x: TensorType, source: Any = None) -> LayerNormAttrs:
        """Keras: rms_scaling keeps gamma (whatever `scale` says) and drops beta."""
        _sample_axes(self, self._axes, x, source)
        axes = tuple(a % x.rank for a in sorted(self._axes))  # Keras's order of gamma's axes
        return LayerNormAttrs(axes, self.epsilon, self.center, self.scale or self.rms_scaling,
                              "rms" if self.rms_scaling else "layer")

    def _options(self) -> dict[str, Any]:
        return {"axis": self.axis, "rms_scaling": self.rms_scaling}


class RMSNormalization(Layer):
    """Keras's RMSNormalization: x / sqrt(mean(x^2 over `axis`) + epsilon)
    * scale (a root mean square about zero, unlike LayerNormalization's
    rms_scaling, which Keras computes about the mean). A mask passes through."""

    mask_mode = "pass"

    def __init__(self, axis: Any = -1, epsilon: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else list(_axes(self, axis))
        self._axes = _axes(self, axis)
        self.epsilon = _epsilon(self, epsilon)

    def _attrs(self, x: TensorType, source: Any = None) -> LayerNormAttrs:
        _sample_axes(self, self._axes, x, source)
        axes = tuple(a % x.rank for a in sorted(self._axes))
        return LayerNormAttrs(axes, self.epsilon, center=False, mode="mean_square")

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        try:
            attrs = self._attrs(in_types[0])
        except ShapeError:
            return  # reported with the call's position when the op is emitted
        self.add_weights_for(OpKind.LAYER_NORM, attrs, in_types, [("scale", "ones")])

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        attrs = self._attrs(b.graph.type_of(inputs[0]), b.source)
        return [b.add(OpKind.LAYER_NORM, inputs, attrs, ("scale",))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class GroupNormalization(_GammaBeta):
    """Keras's GroupNormalization: the channels of `axis` split into `groups`,
    each normalized over its channels and every other sample axis."""

    op = OpKind.GROUP_NORM

    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ConfigError(f"{label}: groups must be a positive int, got {groups!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"{label}: axis must be an int (one channel axis), got {axis!r}")
        self.groups, self.axis = groups, axis
        self.epsilon = _epsilon(self, epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self._gamma_beta(gamma_initializer, beta_initializer, gamma_regularizer,
                         beta_regularizer, gamma_constraint, beta_constraint)

    def _attrs(self, x: TensorType, source: Any = None) -> GroupNormAttrs:
        (axis,) = _sample_axes(self, (self.axis,), x, source)
        return GroupNormAttrs(self.groups, axis, self.epsilon, self.center, self.scale)

    def _options(self) -> dict[str, Any]:
        return {"groups": self.groups, "axis": self.axis}


class UnitNormalization(Layer):
    """Keras's UnitNormalization: x / sqrt(sum of x^2 over `axis`), the
    inverse norm capped at 1e12."""

    mask_mode = "pass"

    def __init__(self, axis: Any = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else list(_axes(self, axis))
        self._axes = _axes(self, axis)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        axes = _sample_axes(self, self._axes, b.graph.type_of(inputs[0]), b.source)
        attrs = LayerNormAttrs(axes, center=False, scale=False, mode="unit")
        return [b.add(OpKind.LAYER_NORM, inputs, attrs)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Normalization(Layer):
    """Keras's Normalization preprocessing layer at inference: (x - mean) /
    max(sqrt(variance), 1e-7), or with invert=True mean + x * that. The
    statistics are given (mean and variance, broadcast over the axes not in
    `axis`) or set later with set_weights([mean, variance]) shaped like a
    sample (from_keras reads an adapted layer's). Keras's adapt() is a
    training step: run it in Keras and convert the model."""

    mask_mode = "pass"

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None,
                 invert: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and not axis:  # how Keras's config spells None
            axis = None
        self.axis = None if axis is None else (
            axis if isinstance(axis, int) else list(_axes(self, axis)))
        if (mean is None) != (variance is None):
            raise ConfigError(f"{self.label()}: give both mean and variance, or neither")
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.variance = None if variance is None else np.asarray(variance, np.float32)
        self.invert = bool(invert)

    def _spread(self, v: np.ndarray, x: TensorType) -> np.ndarray:
        """A given statistic over a sample as Keras places it: its axes on the
        kept axes (the last ones first), 1 elsewhere, then broadcast."""
        keep = () if self.axis is None else _sample_axes(
            self, (self.axis,) if isinstance(self.axis, int) else tuple(self.axis), x)
        shape = [1] * (x.rank - 1)
        dims = v.shape if v.size > 1 else ()
        if len(dims) > len(keep):
            raise ShapeError(f"{self.label()}: a statistic of shape {v.shape} has more axes "
                             f"than the kept axes {keep} of the input {x}")
        for i in range(1, len(dims) + 1):
            shape[keep[-i] - 1] = dims[-i]
        try:
            return np.broadcast_to(v.reshape(shape), x.sample_shape)  # type: ignore[arg-type]
        except ValueError:
            raise ShapeError(f"{self.label()}: a statistic of shape {v.shape} does not fit the "
                             f"kept axes {keep} of the input {x}") from None

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        x = in_types[0]
        self.add_weights_for(OpKind.NORMALIZE, NormalizeAttrs(self.invert), in_types,
                             [("mean", initializers.get("zeros")),
                              ("variance", initializers.get("ones"))])
        if self.mean is not None and self.variance is not None and "mean" in self._weights:
            self.built = True
            self.set_weights([self._spread(self.mean, x), self._spread(self.variance, x)])

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        return [b.add(OpKind.NORMALIZE, inputs, NormalizeAttrs(self.invert),
                      ("mean", "variance"))]

    def get_config(self) -> dict[str, Any]:
        def spelled(v: np.ndarray | None) -> Any:
            return None if v is None else v.tolist()

        return {**super().get_config(), "axis": self.axis, "mean": spelled(self.mean),
                "variance": spelled(self.variance), "invert": self.invert}


__all__ = ["BatchNormalization", "GroupNormalization", "LayerNormalization", "Normalization",
           "RMSNormalization", "Rescaling", "UnitNormalization"]
