"""Makers of the reshaping layers that move values: RepeatVector."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc.layers import RepeatVector
from layerc.layers.base import Layer
from layerc.testing.limits import Shape
from layerc.testing.makers.base import register_layer_maker


@register_layer_maker("repeat_vector")
def make_repeat_vector(draw: DrawFn, shape: Shape) -> Layer | None:
    return RepeatVector(draw(st.integers(1, 4))) if len(shape) == 1 else None
