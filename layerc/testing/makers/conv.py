"""Makers of the convolutions: Conv1D and Conv2D."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc.layers import Conv1D, Conv2D
from layerc.layers.base import Layer
from layerc.testing.limits import DATA_FORMATS, MAX_CHANNELS, Shape
from layerc.testing.makers.base import _activation_and_bias, register_layer_maker
from layerc.testing.makers.spatial import (_applies, _spatial_sizes, _spelled,
                                           _strides_and_dilation, _windows)


def _conv(draw: DrawFn, shape: Shape, cls: Callable[..., Layer], rank: int,
          paddings: tuple[str, ...]) -> Layer | None:
    if not _applies(shape, rank):
        return None
    data_format = draw(st.sampled_from(DATA_FORMATS))
    sizes = _spatial_sizes(shape, rank, data_format)
    padding = draw(st.sampled_from(paddings))
    strides, dilation = _strides_and_dilation(draw, rank, dilate=True)
    kernel = _windows(draw, sizes, padding, dilation)
    return cls(draw(st.integers(1, MAX_CHANNELS)), _spelled(draw, kernel),
               strides=_spelled(draw, strides), padding=padding, data_format=data_format,
               dilation_rate=_spelled(draw, dilation), **_activation_and_bias(draw))


@register_layer_maker("conv1d")
def make_conv1d(draw: DrawFn, shape: Shape) -> Layer | None:
    """Conv1D on a rank-2 shape: either data format, padding valid, same or causal,
    strides or dilation (never both), a kernel up to the input's length."""
    return _conv(draw, shape, Conv1D, 1, ("valid", "same", "causal"))


@register_layer_maker("conv2d")
def make_conv2d(draw: DrawFn, shape: Shape) -> Layer | None:
    """Conv2D on a rank-3 shape, as make_conv1d with padding valid or same and
    options per axis (even kernels with strides give TF's uneven 'same' pads)."""
    return _conv(draw, shape, Conv2D, 2, ("valid", "same"))
