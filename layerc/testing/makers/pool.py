"""Makers of the poolings: windowed (Max/AveragePooling1D/2D/3D) and global
(GlobalMax/AveragePooling1D/2D/3D)."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc.layers import (AveragePooling1D, AveragePooling2D, AveragePooling3D,
                           GlobalAveragePooling1D, GlobalAveragePooling2D,
                           GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                           GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from layerc.layers.base import Layer
from layerc.testing.limits import DATA_FORMATS, MAX_STRIDE, Shape
from layerc.testing.makers.base import register_layer_maker
from layerc.testing.makers.spatial import _applies, _spatial_sizes, _spelled, _windows


def _pool(draw: DrawFn, shape: Shape, cls: type[Layer], rank: int) -> Layer | None:
    if not _applies(shape, rank):
        return None
    data_format = draw(st.sampled_from(DATA_FORMATS))
    sizes = _spatial_sizes(shape, rank, data_format)
    padding = draw(st.sampled_from(("valid", "same")))
    pool = _windows(draw, sizes, padding, (1,) * rank)
    strides = None  # the pool size, as Keras defaults it
    if draw(st.booleans()):
        strides = _spelled(draw, tuple(draw(st.integers(1, MAX_STRIDE)) for _ in range(rank)))
    return cls(pool_size=_spelled(draw, pool), strides=strides, padding=padding,
               data_format=data_format)


def _global_pool(draw: DrawFn, shape: Shape, cls: type[Layer], rank: int) -> Layer | None:
    if not _applies(shape, rank):
        return None
    return cls(data_format=draw(st.sampled_from(DATA_FORMATS)), keepdims=draw(st.booleans()))


@register_layer_maker("max_pooling1d")
def make_max_pooling1d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _pool(draw, shape, MaxPooling1D, 1)


@register_layer_maker("average_pooling1d")
def make_average_pooling1d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _pool(draw, shape, AveragePooling1D, 1)


@register_layer_maker("max_pooling2d")
def make_max_pooling2d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _pool(draw, shape, MaxPooling2D, 2)


@register_layer_maker("average_pooling2d")
def make_average_pooling2d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _pool(draw, shape, AveragePooling2D, 2)


@register_layer_maker("global_max_pooling1d")
def make_global_max_pooling1d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _global_pool(draw, shape, GlobalMaxPooling1D, 1)


@register_layer_maker("global_average_pooling1d")
def make_global_average_pooling1d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _global_pool(draw, shape, GlobalAveragePooling1D, 1)


@register_layer_maker("global_max_pooling2d")
def make_global_max_pooling2d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _global_pool(draw, shape, GlobalMaxPooling2D, 2)


@register_layer_maker("global_average_pooling2d")
def make_global_average_pooling2d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _global_pool(draw, shape, GlobalAveragePooling2D, 2)


@register_layer_maker("max_pooling3d")
def make_max_pooling3d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _pool(draw, shape, MaxPooling3D, 3)


@register_layer_maker("average_pooling3d")
def make_average_pooling3d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _pool(draw, shape, AveragePooling3D, 3)


@register_layer_maker("global_max_pooling3d")
def make_global_max_pooling3d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _global_pool(draw, shape, GlobalMaxPooling3D, 3)


@register_layer_maker("global_average_pooling3d")
def make_global_average_pooling3d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _global_pool(draw, shape, GlobalAveragePooling3D, 3)
