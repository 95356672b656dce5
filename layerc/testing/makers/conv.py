"""Makers of the convolutions: Conv1D, Conv2D and Conv3D, DepthwiseConv1D/2D,
SeparableConv1D/2D and Conv1DTranspose/Conv2DTranspose/Conv3DTranspose."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc.layers import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D,
                           Conv3DTranspose, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D,
                           SeparableConv2D)
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


@register_layer_maker("conv3d")
def make_conv3d(draw: DrawFn, shape: Shape) -> Layer | None:
    """Conv3D on a rank-4 shape, as make_conv2d."""
    return _conv(draw, shape, Conv3D, 3, ("valid", "same"))


def _rank_of(shape: Shape) -> int:
    """1 for a sequence (steps, channels), 2 for a feature map, else 0."""
    return len(shape) - 1 if len(shape) in (2, 3) else 0


@register_layer_maker("depthwise_conv")
def make_depthwise_conv(draw: DrawFn, shape: Shape) -> Layer | None:
    """DepthwiseConv1D or 2D (by the shape's rank), depth_multiplier 1-3, padding
    valid or same, strides or dilation, either data format (channels last in
    1-D, as Keras's torch backend runs it)."""
    rank = _rank_of(shape)
    if not rank or not _applies(shape, rank):
        return None
    data_format = draw(st.sampled_from(DATA_FORMATS)) if rank == 2 else "channels_last"
    padding = draw(st.sampled_from(("valid", "same")))
    strides, dilation = _strides_and_dilation(draw, rank, dilate=True)
    kernel = _windows(draw, _spatial_sizes(shape, rank, data_format), padding, dilation)
    cls = DepthwiseConv1D if rank == 1 else DepthwiseConv2D
    options = _activation_and_bias(draw)
    options["depthwise_initializer"] = options.pop("kernel_initializer")
    return cls(_spelled(draw, kernel), strides=_spelled(draw, strides), padding=padding,
               depth_multiplier=draw(st.integers(1, 3)), data_format=data_format,
               dilation_rate=_spelled(draw, dilation), **options)


@register_layer_maker("separable_conv")
def make_separable_conv(draw: DrawFn, shape: Shape) -> Layer | None:
    """SeparableConv1D or 2D: a depthwise window as make_depthwise_conv draws
    it, then 1-MAX_CHANNELS filters."""
    depthwise: Any = make_depthwise_conv(draw, shape)
    if depthwise is None:
        return None
    options = {k: v for k, v in depthwise.get_config().items()
               if k in ("kernel_size", "strides", "padding", "depth_multiplier", "data_format",
                        "dilation_rate", "activation", "use_bias", "depthwise_initializer",
                        "bias_initializer")}
    options["pointwise_initializer"] = depthwise.depthwise_initializer
    cls = SeparableConv1D if depthwise.rank == 1 else SeparableConv2D
    return cls(draw(st.integers(1, MAX_CHANNELS)), **options)


@register_layer_maker("conv_transpose")
def make_conv_transpose(draw: DrawFn, shape: Shape) -> Layer | None:
    """Conv1DTranspose, 2D or 3D (by the shape's rank: a sequence, a feature
    map or a volume): padding valid or same, strides or dilation (never both),
    output_padding None or below the strides (None where it would leave an
    axis empty), either data format."""
    rank = len(shape) - 1 if len(shape) in (2, 3, 4) else 0
    if not rank or not _applies(shape, rank):
        return None
    strides, dilation = _strides_and_dilation(draw, rank, dilate=True)
    output_padding = None
    if draw(st.booleans()):
        output_padding = tuple(draw(st.integers(0, s - 1)) for s in strides)
    filters = draw(st.integers(1, MAX_CHANNELS))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    kernel_size, strides_spelled = _spelled(draw, kernel), _spelled(draw, strides)
    padding = draw(st.sampled_from(("valid", "same")))
    data_format = draw(st.sampled_from(DATA_FORMATS))
    if padding == "same" and output_padding is not None and _leaves_nothing(
            _spatial_sizes(shape, rank, data_format), kernel, dilation, output_padding):
        output_padding = None
    cls = (Conv1DTranspose, Conv2DTranspose, Conv3DTranspose)[rank - 1]
    return cls(filters, kernel_size, strides=strides_spelled, padding=padding,
               output_padding=output_padding, data_format=data_format,
               dilation_rate=_spelled(draw, dilation), **_activation_and_bias(draw))


def _leaves_nothing(sizes: tuple[int, ...], kernel: tuple[int, ...], dilation: tuple[int, ...],
                    output_padding: tuple[int, ...]) -> bool:
    """Whether 'same' padding with this output_padding leaves an axis empty:
    its length (n - 1) * s + span % 2 + output_padding (ir/ops/conv_transpose.py,
    as Keras computes it) is 0 on a side-1 axis of an even dilated span."""
    return any(n == 1 and ((k - 1) * d + 1) % 2 == 0 and p == 0
               for n, k, d, p in zip(sizes, kernel, dilation, output_padding))
