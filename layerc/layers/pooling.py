"""Pooling layers: Max/AveragePooling1D/2D/3D and their global forms (Keras 3
names and the MaxPool2D-style aliases)."""

from __future__ import annotations

from typing import Any

from layerc.config import standardize_data_format
from layerc.ir import OpKind, Port
from layerc.ir.ops.pool import GlobalPoolAttrs, PoolAttrs
from layerc.layers.base import Builder, Layer
from layerc.layers.spatial_options import int_tuple, keras1_aliases, padding


class _Pool(Layer):
    rank = 0
    mode = ""

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        kwargs = keras1_aliases(kwargs, {"border_mode": "padding",
                                         "dim_ordering": "data_format"})
        padding = kwargs.pop("padding", padding)
        data_format = kwargs.pop("data_format", data_format)
        super().__init__(**kwargs)
        label = self.label()
        self.pool_size = int_tuple(label, "pool_size", pool_size, self.rank)
        self.strides = self.pool_size if strides is None else \
            int_tuple(label, "strides", strides, self.rank)
        self.padding = _padding(label, padding)
        self.data_format = standardize_data_format(label, data_format)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        attrs = PoolAttrs(self.mode, self.pool_size, self.strides, self.padding,
                          self.data_format)
        return [b.add(OpKind.POOL, inputs, attrs)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


def _padding(label: str, value: Any) -> str:
    return padding(label, value, ("valid", "same"))


class MaxPooling1D(_Pool):
    rank, mode = 1, "max"


class AveragePooling1D(_Pool):
    rank, mode = 1, "avg"


class MaxPooling2D(_Pool):
    rank, mode = 2, "max"

    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(MaxPooling2D):
    rank, mode = 2, "avg"


class MaxPooling3D(_Pool):
    rank, mode = 3, "max"

    def __init__(self, pool_size: Any = (2, 2, 2), strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling3D(MaxPooling3D):
    rank, mode = 3, "avg"


class _GlobalPool(Layer):
    rank = 0
    mode = ""

    def __init__(self, data_format: str | None = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(self.label(), data_format)
        self.keepdims = bool(keepdims)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        attrs = GlobalPoolAttrs(self.mode, self.rank, self.data_format, self.keepdims)
        return [b.add(OpKind.GLOBAL_POOL, inputs, attrs)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPool):
    rank, mode = 1, "max"


class GlobalAveragePooling1D(_GlobalPool):
    """Averages over the unmasked steps when its input carries a mask."""

    rank, mode = 1, "avg"
    mask_mode = "consume"

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        if b.mask is None:
            return super().emit(b, inputs)
        attrs = GlobalPoolAttrs(self.mode, self.rank, self.data_format, self.keepdims, True)
        return [b.add(OpKind.GLOBAL_POOL, [inputs[0], b.mask], attrs)]


class GlobalMaxPooling2D(_GlobalPool):
    rank, mode = 2, "max"


class GlobalAveragePooling2D(_GlobalPool):
    rank, mode = 2, "avg"


class GlobalMaxPooling3D(_GlobalPool):
    rank, mode = 3, "max"


class GlobalAveragePooling3D(_GlobalPool):
    rank, mode = 3, "avg"


MaxPool1D, AvgPool1D, MaxPool2D, AvgPool2D = (MaxPooling1D, AveragePooling1D, MaxPooling2D,
                                              AveragePooling2D)
MaxPool3D, AvgPool3D = MaxPooling3D, AveragePooling3D
GlobalMaxPool1D, GlobalAvgPool1D = GlobalMaxPooling1D, GlobalAveragePooling1D
GlobalMaxPool2D, GlobalAvgPool2D = GlobalMaxPooling2D, GlobalAveragePooling2D
GlobalMaxPool3D, GlobalAvgPool3D = GlobalMaxPooling3D, GlobalAveragePooling3D

__all__ = ["AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D",
           "AvgPool3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
           "GlobalAveragePooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
           "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D",
           "MaxPooling1D", "MaxPooling2D", "MaxPooling3D"]
