"""Makers of the core layers: Dense, Activation, Dropout, Flatten, Reshape."""

from __future__ import annotations

import math

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc.layers import Activation, Dropout, Flatten, Reshape
from layerc.layers.base import Layer
from layerc.testing.limits import Shape
from layerc.testing.makers.base import (_SEEDS, SHAPE_KEEPING, dense_layer,
                                        register_layer_maker)
from layerc.testing.shapes import reshape_targets


@register_layer_maker("dense")
def make_dense(draw: DrawFn, shape: Shape) -> Layer | None:
    return dense_layer(draw)


@register_layer_maker("activation")
def make_activation(draw: DrawFn, shape: Shape) -> Layer | None:
    """Any activation by name; glu (one draw in eight) where the last axis is even."""
    if shape[-1] % 2 == 0 and draw(st.integers(0, 7)) == 0:
        return Activation("glu")
    return Activation(draw(st.sampled_from(SHAPE_KEEPING)))


@register_layer_maker("dropout")
def make_dropout(draw: DrawFn, shape: Shape) -> Layer | None:
    rate = draw(st.sampled_from((0.0, 0.1, 0.5, 0.9)))
    noise_shape = None
    if draw(st.booleans()):
        noise_shape = (None, *(draw(st.sampled_from((1, d))) for d in shape))
    return Dropout(rate, noise_shape=noise_shape, seed=draw(st.none() | _SEEDS))


@register_layer_maker("flatten")
def make_flatten(draw: DrawFn, shape: Shape) -> Layer | None:
    return Flatten(data_format=draw(st.sampled_from(("channels_last", "channels_first"))))


@register_layer_maker("reshape")
def make_reshape(draw: DrawFn, shape: Shape) -> Layer | None:
    return Reshape(draw(reshape_targets(math.prod(shape))))
