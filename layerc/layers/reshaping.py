"""Reshaping layers that move values: RepeatVector, Permute, ZeroPadding1D/2D/3D,
Cropping1D/2D/3D, UpSampling1D/2D/3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from layerc.config import standardize_data_format
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.core import TransposeAttrs
from layerc.ir.ops.reshaping import CropAttrs, PadAttrs, RepeatAttrs, UpsampleAttrs
from layerc.ir.ops.resize import ResizeAttrs
from layerc.layers.base import Builder, Layer
from layerc.layers.core import positive_int
from layerc.layers.spatial_options import int_tuple

Pairs = tuple[tuple[int, int], ...]


class RepeatVector(Layer):
    """Keras's RepeatVector: (batch, features) -> (batch, n, features)."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = positive_int(self, "n", n)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        return [b.add(OpKind.REPEAT, inputs, RepeatAttrs(self.n))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Keras's Permute: `dims` orders the sample axes (1-based, the batch stays
    first); a copy on every target."""

    mask_mode = "pass"

    def __init__(self, dims: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        dims = tuple(dims) if isinstance(dims, (list, tuple)) else ()
        if sorted(dims) != list(range(1, len(dims) + 1)) or any(
                isinstance(d, bool) for d in dims):
            raise ConfigError(f"{self.label()}: dims must be a permutation of 1..n (the sample "
                              f"axes), got {dims!r}")
        self.dims = dims

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        x = b.graph.type_of(inputs[0])
        if len(self.dims) != x.rank - 1:
            raise ShapeError(f"{self.label(b.source)}: dims {self.dims} does not permute the "
                             f"{x.rank - 1} sample axes of the input {x}")
        return [b.add(OpKind.TRANSPOSE, inputs, TransposeAttrs((0, *self.dims)))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


def _pair(label: str, option: str, value: Any) -> tuple[int, int]:
    """An int n (n, n) or a pair of non-negative ints."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(pair, (list, tuple)) or len(pair) != 2 or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in pair):
        raise ConfigError(f"{label}: {option} must be a non-negative int or a pair of them, "
                          f"got {value!r}")
    return (pair[0], pair[1])


def _pairs(label: str, option: str, value: Any, rank: int) -> Pairs:
    """Keras's spatial (before, after) spec: an int, `rank` ints (symmetric
    per axis) or `rank` pairs; a 1-D layer takes an int or one pair."""
    if rank == 1:
        return (_pair(label, option, value),)
    if isinstance(value, (list, tuple)) and len(value) == rank:
        return tuple(_pair(label, option, v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return (_pair(label, option, value),) * rank
    raise ConfigError(f"{label}: {option} must be an int, {rank} ints or {rank} pairs of "
                      f"ints, got {value!r}")


class _Spatial(Layer):
    """A layer acting on the `rank` spatial axes of (batch, *spatial,
    channels) or (batch, channels, *spatial)."""

    mask_mode = "drop"
    rank = 1

    def _formatted(self, data_format: str | None) -> str:
        return standardize_data_format(self.label(), data_format)

    def _per_axis(self, b: Builder, x: TensorType, spatial: tuple, fill: Any) -> tuple:
        """Spatial values spread over the sample axes, `fill` at the channels."""
        if x.rank != self.rank + 2:
            raise ShapeError(f"{self.label(b.source)}: expected a rank-{self.rank + 2} input "
                             f"(batch, {self.rank} spatial axes, channels), got {x}")
        first = getattr(self, "data_format", "channels_last") == "channels_first"
        return (fill, *spatial) if first else (*spatial, fill)


class _ZeroPadding(_Spatial):
    def __init__(self, padding: Any, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = _pairs(self.label(), "padding", padding, self.rank)
        self.data_format = self._formatted(data_format)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        pads = self._per_axis(b, b.graph.type_of(inputs[0]), self.padding, (0, 0))
        return [b.add(OpKind.PAD, inputs, PadAttrs(pads))]

    def get_config(self) -> dict[str, Any]:
        padding = self.padding[0] if self.rank == 1 else self.padding
        return {**super().get_config(), "padding": padding, "data_format": self.data_format}


class ZeroPadding1D(_ZeroPadding):
    def __init__(self, padding: Any = 1, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    rank = 2

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    rank = 3

    def __init__(self, padding: Any = ((1, 1), (1, 1), (1, 1)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(padding, data_format, **kwargs)


class _Cropping(_Spatial):
    def __init__(self, cropping: Any, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cropping = _pairs(self.label(), "cropping", cropping, self.rank)
        self.data_format = self._formatted(data_format)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        crops = self._per_axis(b, b.graph.type_of(inputs[0]), self.cropping, (0, 0))
        return [b.add(OpKind.CROP, inputs, CropAttrs(crops))]


class Cropping1D(_Cropping):
    """Keras's Cropping1D: (before, after) steps dropped (channels last)."""

    def __init__(self, cropping: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(cropping, "channels_last", **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cropping": self.cropping[0]}


class Cropping2D(_Cropping):
    rank = 2

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(cropping, data_format, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cropping": self.cropping,
                "data_format": self.data_format}


class Cropping3D(Cropping2D):
    rank = 3

    def __init__(self, cropping: Any = ((1, 1), (1, 1), (1, 1)),
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(cropping, data_format, **kwargs)


class UpSampling1D(_Spatial):
    """Keras's UpSampling1D: each step repeated `size` times."""

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = positive_int(self, "size", size)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        size = self._per_axis(b, b.graph.type_of(inputs[0]), (self.size,), 1)
        return [b.add(OpKind.UPSAMPLE, inputs, UpsampleAttrs(size))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size}


class UpSampling2D(_Spatial):
    """Keras's UpSampling2D: rows and columns repeated (nearest), or the
    image resized by `size` (bilinear or bicubic: Keras resizes it with its
    image resize; layerc with the resize op, as Resizing)."""

    rank = 2
    INTERPOLATIONS = ("nearest", "bilinear", "bicubic")

    def __init__(self, size: Any = (2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = int_tuple(self.label(), "size", size, 2)
        self.data_format = self._formatted(data_format)
        text = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if text not in self.INTERPOLATIONS:
            raise ConfigError(f"{self.label()}: interpolation {interpolation!r} is not "
                              f"supported; layerc has {', '.join(self.INTERPOLATIONS)}")
        self.interpolation = text

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        x = b.graph.type_of(inputs[0])
        size = self._per_axis(b, x, self.size, 1)
        if self.interpolation == "nearest":
            return [b.add(OpKind.UPSAMPLE, inputs, UpsampleAttrs(size))]
        return [b.add(OpKind.RESIZE, inputs, ResizeAttrs(
            (self.size[0], self.size[1]), self.interpolation, data_format=self.data_format,
            by_factor=True))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}


class UpSampling3D(_Spatial):
    """Keras's UpSampling3D: depth, rows and columns repeated (nearest)."""

    rank = 3

    def __init__(self, size: Any = (2, 2, 2), data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = int_tuple(self.label(), "size", size, 3)
        self.data_format = self._formatted(data_format)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        size = self._per_axis(b, b.graph.type_of(inputs[0]), self.size, 1)
        return [b.add(OpKind.UPSAMPLE, inputs, UpsampleAttrs(size))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}


__all__ = ["Cropping1D", "Cropping2D", "Cropping3D", "Permute", "RepeatVector", "UpSampling1D",
           "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"]
