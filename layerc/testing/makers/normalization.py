"""Makers of the normalization layers: BatchNormalization, Rescaling,
LayerNormalization (and UnitNormalization), GroupNormalization,
Normalization."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc import initializers
from layerc.layers import (BatchNormalization, GroupNormalization, LayerNormalization,
                           Normalization, Rescaling, UnitNormalization)
from layerc.layers.base import Layer
from layerc.testing.limits import Shape
from layerc.testing.makers.base import _SEEDS, register_layer_maker


@register_layer_maker("batch_normalization")
def make_batch_normalization(draw: DrawFn, shape: Shape) -> Layer | None:
    """Any non-batch axis (spelled negative or positive), both flags, and
    seeded statistics far from the identity: means in [-1, 1), variances in
    [0.25, 4), gammas in [-2, 2), betas in [-1, 1)."""
    rank = len(shape) + 1
    axis = draw(st.integers(1, rank - 1))
    seed = draw(_SEEDS)
    return BatchNormalization(
        axis=axis - rank if draw(st.booleans()) else axis,
        epsilon=draw(st.sampled_from((1e-3, 1e-5, 0.1))),
        center=draw(st.booleans()), scale=draw(st.booleans()),
        gamma_initializer=initializers.RandomUniform(-2.0, 2.0, seed=seed),
        beta_initializer=initializers.RandomUniform(-1.0, 1.0, seed=seed + 1),
        moving_mean_initializer=initializers.RandomUniform(-1.0, 1.0, seed=seed + 2),
        moving_variance_initializer=initializers.RandomUniform(0.25, 4.0, seed=seed + 3))


@register_layer_maker("rescaling")
def make_rescaling(draw: DrawFn, shape: Shape) -> Layer | None:
    """A scale and an offset, each one number or one per channel of the last axis."""
    def values(low: float, high: float) -> list[float] | float:
        number = st.floats(low, high, allow_nan=False, width=32)
        if draw(st.booleans()):
            return draw(number)
        return draw(st.lists(number, min_size=shape[-1], max_size=shape[-1]))

    return Rescaling(values(-2.0, 2.0), values(-1.0, 1.0))


@register_layer_maker("layer_normalization")
def make_layer_normalization(draw: DrawFn, shape: Shape) -> Layer | None:
    """Layer (or RMS) normalization over a block of adjacent axes, or unit
    normalization; epsilons of at least 0.1 keep near-constant blocks tame."""
    rank = len(shape) + 1
    first = draw(st.integers(1, rank - 1))
    axes = list(range(first, draw(st.integers(first, rank - 1)) + 1))
    if draw(st.integers(0, 3)) == 0:
        return UnitNormalization(axis=axes)
    seed = draw(_SEEDS)
    return LayerNormalization(
        axis=axes, epsilon=draw(st.sampled_from((0.1, 1.0))), center=draw(st.booleans()),
        scale=draw(st.booleans()), rms_scaling=draw(st.booleans()),
        gamma_initializer=initializers.RandomUniform(-2.0, 2.0, seed=seed),
        beta_initializer=initializers.RandomUniform(-1.0, 1.0, seed=seed + 1))


@register_layer_maker("group_normalization")
def make_group_normalization(draw: DrawFn, shape: Shape) -> Layer | None:
    """Groups that divide the last axis (or the first, for feature maps)."""
    first = len(shape) > 1 and draw(st.booleans())
    channels = shape[0] if first else shape[-1]
    groups = draw(st.sampled_from([g for g in range(1, channels + 1) if channels % g == 0]))
    seed = draw(_SEEDS)
    return GroupNormalization(
        groups=groups, axis=1 if first else -1, epsilon=draw(st.sampled_from((0.1, 1.0))),
        center=draw(st.booleans()), scale=draw(st.booleans()),
        gamma_initializer=initializers.RandomUniform(-2.0, 2.0, seed=seed),
        beta_initializer=initializers.RandomUniform(-1.0, 1.0, seed=seed + 1))


@register_layer_maker("normalization")
def make_normalization(draw: DrawFn, shape: Shape) -> Layer | None:
    """Given statistics over the last axis: means in [-1, 1), variances in
    [0.25, 4); inverted or not."""
    n = shape[-1]
    mean = draw(st.lists(st.floats(-1.0, 1.0, width=32), min_size=n, max_size=n))
    variance = draw(st.lists(st.floats(0.25, 4.0, width=32), min_size=n, max_size=n))
    return Normalization(mean=mean, variance=variance, invert=draw(st.booleans()))
