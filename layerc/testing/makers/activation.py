"""Makers of the activation layers with parameters: ReLU, LeakyReLU, ELU,
PReLU, Softmax."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc import initializers
from layerc.layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from layerc.layers.base import Layer
from layerc.testing.limits import Shape
from layerc.testing.makers.base import _SEEDS, register_layer_maker


@register_layer_maker("relu")
def make_relu(draw: DrawFn, shape: Shape) -> Layer | None:
    """ReLU with a drawn cap, slope and threshold, or LeakyReLU or ELU."""
    kind = draw(st.sampled_from(("relu", "leaky", "elu")))
    if kind == "leaky":
        return LeakyReLU(draw(st.sampled_from((0.01, 0.2, 0.3))))
    if kind == "elu":
        return ELU(draw(st.sampled_from((0.5, 1.0, 1.5))))
    return ReLU(max_value=draw(st.sampled_from((None, 1.0, 6.0))),
                negative_slope=draw(st.sampled_from((0.0, 0.1))),
                threshold=draw(st.sampled_from((0.0, 0.5))))


@register_layer_maker("prelu")
def make_prelu(draw: DrawFn, shape: Shape) -> Layer | None:
    """Seeded alphas in [-1, 1), some axes shared."""
    shared = draw(st.lists(st.integers(1, len(shape)), unique=True, max_size=len(shape)))
    return PReLU(alpha_initializer=initializers.RandomUniform(-1.0, 1.0, seed=draw(_SEEDS)),
                 shared_axes=shared or None)


@register_layer_maker("softmax")
def make_softmax(draw: DrawFn, shape: Shape) -> Layer | None:
    """Softmax over a block of adjacent axes."""
    rank = len(shape) + 1
    first = draw(st.integers(1, rank - 1))
    last = draw(st.integers(first, rank - 1))
    return Softmax(axis=first if first == last else list(range(first, last + 1)))
