"""Global settings: the image data format (and the float type, fixed at float32)."""

from __future__ import annotations

import os

from layerc.errors import ConfigError

_FORMATS = ("channels_last", "channels_first")


def _from_env() -> str:
    fmt = os.environ.get("LAYERC_IMAGE_DATA_FORMAT", "channels_last")
    if fmt not in _FORMATS:
        raise ConfigError(f"LAYERC_IMAGE_DATA_FORMAT: expected one of {_FORMATS}, got {fmt!r}")
    return fmt


_image_data_format = _from_env()


def image_data_format() -> str:
    """The data format used by every layer created with data_format=None."""
    return _image_data_format


def set_image_data_format(data_format: str) -> None:
    global _image_data_format
    if data_format not in _FORMATS:
        raise ConfigError(f"set_image_data_format: expected one of {_FORMATS}, "
                          f"got {data_format!r}")
    _image_data_format = data_format


def floatx() -> str:
    """layerc computes in float32 only."""
    return "float32"


def standardize_data_format(layer: str, data_format: str | None) -> str:
    """Resolves a layer's data_format argument against the global default."""
    if data_format is None:
        return image_data_format()
    if data_format not in _FORMATS:
        raise ConfigError(f"{layer}: data_format must be one of {_FORMATS}, got {data_format!r}")
    return data_format
