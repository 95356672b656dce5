"""Makers of the reshaping layers that move values: RepeatVector, Permute,
ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D (the spatial ones
by the shape's rank, so that the windowed makers keep the 1d/2d/3d names)."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc.layers import (Cropping1D, Cropping2D, Cropping3D, Permute, RepeatVector,
                           UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D,
                           ZeroPadding2D, ZeroPadding3D)
from layerc.layers.base import Layer
from layerc.testing.limits import Shape
from layerc.testing.makers.base import register_layer_maker


@register_layer_maker("repeat_vector")
def make_repeat_vector(draw: DrawFn, shape: Shape) -> Layer | None:
    return RepeatVector(draw(st.integers(1, 4))) if len(shape) == 1 else None


@register_layer_maker("permute")
def make_permute(draw: DrawFn, shape: Shape) -> Layer | None:
    return Permute(tuple(draw(st.permutations(range(1, len(shape) + 1)))))


@register_layer_maker("zero_padding")
def make_zero_padding(draw: DrawFn, shape: Shape) -> Layer | None:
    """ZeroPadding1D, 2D or 3D (by the shape's rank) in either data format."""
    if len(shape) not in (2, 3, 4):
        return None
    fmt = draw(st.sampled_from(("channels_last", "channels_first")))
    pair = st.tuples(st.integers(0, 2), st.integers(0, 2))
    if len(shape) == 2:
        return ZeroPadding1D(draw(pair), data_format=fmt)
    if len(shape) == 4:
        return ZeroPadding3D((draw(pair), draw(pair), draw(pair)), data_format=fmt)
    return ZeroPadding2D((draw(pair), draw(pair)), data_format=fmt)


@register_layer_maker("cropping")
def make_cropping(draw: DrawFn, shape: Shape) -> Layer | None:
    """Cropping1D, 2D or 3D, leaving at least one value on every cropped axis."""
    if len(shape) not in (2, 3, 4):
        return None
    fmt = "channels_last" if len(shape) == 2 else draw(
        st.sampled_from(("channels_last", "channels_first")))
    sides = shape[:-1] if fmt == "channels_last" else shape[1:]

    def crop(n: int) -> tuple[int, int]:
        before = draw(st.integers(0, n - 1))
        return before, draw(st.integers(0, n - 1 - before))

    if len(shape) == 2:
        return Cropping1D(crop(sides[0]))
    if len(shape) == 4:
        return Cropping3D((crop(sides[0]), crop(sides[1]), crop(sides[2])), data_format=fmt)
    return Cropping2D((crop(sides[0]), crop(sides[1])), data_format=fmt)


@register_layer_maker("up_sampling")
def make_up_sampling(draw: DrawFn, shape: Shape) -> Layer | None:
    """UpSampling1D, UpSampling2D (nearest or bilinear, either format) or
    UpSampling3D (either format)."""
    if len(shape) not in (2, 3, 4):
        return None
    if len(shape) == 2:
        return UpSampling1D(draw(st.integers(1, 3)))
    if len(shape) == 4:
        return UpSampling3D(tuple(draw(st.integers(1, 2)) for _ in range(3)),
                            data_format=draw(st.sampled_from(("channels_last",
                                                              "channels_first"))))
    return UpSampling2D((draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                        data_format=draw(st.sampled_from(("channels_last", "channels_first"))),
                        interpolation=draw(st.sampled_from(("nearest", "bilinear", "bicubic"))))
