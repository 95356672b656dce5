"""Makers of the locally-connected layers: LocallyConnected1D and 2D."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc.layers import LocallyConnected1D, LocallyConnected2D
from layerc.layers.base import Layer
from layerc.testing.limits import DATA_FORMATS, MAX_CHANNELS, Shape
from layerc.testing.makers.base import _activation_and_bias, register_layer_maker
from layerc.testing.makers.spatial import (_applies, _spatial_sizes, _spelled,
                                           _strides_and_dilation, _windows)


def _local(draw: DrawFn, shape: Shape, cls: Callable[..., Layer], rank: int) -> Layer | None:
    if not _applies(shape, rank):
        return None
    data_format = draw(st.sampled_from(DATA_FORMATS))
    sizes = _spatial_sizes(shape, rank, data_format)
    strides, _ = _strides_and_dilation(draw, rank, dilate=False)
    kernel = _windows(draw, sizes, "valid", (1,) * rank)
    return cls(draw(st.integers(1, MAX_CHANNELS)), _spelled(draw, kernel),
               strides=_spelled(draw, strides), data_format=data_format,
               **_activation_and_bias(draw))


@register_layer_maker("locally_connected1d")
def make_locally_connected1d(draw: DrawFn, shape: Shape) -> Layer | None:
    """LocallyConnected1D on a rank-2 shape: either data format, 'valid' windows
    up to the input's length, strides."""
    return _local(draw, shape, LocallyConnected1D, 1)


@register_layer_maker("locally_connected2d")
def make_locally_connected2d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _local(draw, shape, LocallyConnected2D, 2)
