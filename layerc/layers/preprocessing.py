"""Image preprocessing layers that compute at inference: Resizing and
CenterCrop (on (batch, height, width, channels) images, or channels first).

Both follow Keras 3.15 with the torch backend (PyTorch's interpolate,
align_corners=False): "nearest" is PyTorch's nearest-exact, "bicubic" its
cubic convolution with a = -0.75 (Keras's TensorFlow and JAX backends
differ there); the lanczos and area interpolations, which Keras's torch
backend refuses, and antialiasing are refused.
"""

from __future__ import annotations

from typing import Any

from layerc.config import standardize_data_format
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.reshaping import CropAttrs
from layerc.ir.ops.resize import INTERPOLATIONS, ResizeAttrs
from layerc.ir.ops.spatial import split
from layerc.layers.base import Builder, Layer
from layerc.layers.core import positive_int


class _Sized(Layer, register=False):
    """A layer with a target (height, width) and a data format."""

    def _size(self, height: Any, width: Any, data_format: Any) -> None:
        self.height = positive_int(self, "height", height)
        self.width = positive_int(self, "width", width)
        self.data_format = standardize_data_format(self.label(), data_format)

    def _image(self, b: Builder, x: Port) -> tuple[int, int]:
        t: TensorType = b.graph.type_of(x)
        try:
            (h, w), _ = split(t, self.data_format, 2)
        except ShapeError as err:
            raise ShapeError(f"{self.label(b.source)}: expects images: {err}") from None
        if h is None or w is None:
            raise ShapeError(f"{self.label(b.source)}: needs a known height and width, got {t}")
        return h, w

    def _config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "data_format": self.data_format}


class Resizing(_Sized):
    """`Resizing(height, width, interpolation="bilinear",
    crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
    fill_mode="constant", fill_value=0.0, antialias=False, data_format=None)`:
    resizes images to (height, width); with crop_to_aspect_ratio the largest
    centered box of the target's aspect ratio is resized, with
    pad_to_aspect_ratio the image centered in a canvas of that aspect
    ratio filled with fill_value."""

    def __init__(self, height: int, width: int, interpolation: str = "bilinear",
                 crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
                 fill_mode: str = "constant", fill_value: float = 0.0, antialias: bool = False,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        self._size(height, width, data_format)
        if interpolation not in INTERPOLATIONS:
            raise ConfigError(f"{label}: interpolation={interpolation!r} is not supported; "
                              f"layerc resizes as Keras's torch backend does, with "
                              f"{', '.join(INTERPOLATIONS)}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ConfigError(f"{label}: crop_to_aspect_ratio and pad_to_aspect_ratio "
                              f"cannot both be True")
        if fill_mode != "constant":
            raise ConfigError(f"{label}: fill_mode={fill_mode!r} is not supported (Keras "
                              f"supports only 'constant')")
        if antialias:
            raise ConfigError(f"{label}: antialias=True is not supported")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode, self.fill_value, self.antialias = fill_mode, float(fill_value), False

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        self._image(b, inputs[0])
        aspect = "crop" if self.crop_to_aspect_ratio else \
            "pad" if self.pad_to_aspect_ratio else ""
        return [b.add(OpKind.RESIZE, inputs, ResizeAttrs(
            (self.height, self.width), self.interpolation, aspect, self.fill_value,
            self.data_format))]

    def get_config(self) -> dict[str, Any]:
        return {**self._config(), "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


class CenterCrop(_Sized):
    """`CenterCrop(height, width, data_format=None)`: the centered (height,
    width) box of images at least that large (a crop); a smaller image (on
    either side) is resized as Keras's smart_resize does: its largest
    centered box of the target's aspect ratio, resized bilinearly."""

    def __init__(self, height: int, width: int, data_format: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._size(height, width, data_format)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        h, w = self._image(b, inputs[0])
        if h < self.height or w < self.width:
            return [b.add(OpKind.RESIZE, inputs, ResizeAttrs(
                (self.height, self.width), "bilinear", "crop", 0.0, self.data_format))]
        top, left = (h - self.height) // 2, (w - self.width) // 2
        spatial = ((top, h - self.height - top), (left, w - self.width - left))
        crops = spatial + ((0, 0),) if self.data_format == "channels_last" else \
            ((0, 0),) + spatial
        return [b.add(OpKind.CROP, inputs, CropAttrs(crops))]

    def get_config(self) -> dict[str, Any]:
        return self._config()


__all__ = ["CenterCrop", "Resizing"]
