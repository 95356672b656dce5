"""The layer-maker protocol and registry, `draw_layer`, and the drawing helpers
every family shares: seeded weight initializers and a drawn Dense."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc import activations, initializers
from layerc.layers import Dense
from layerc.layers.base import Layer
from layerc.testing._package import package
from layerc.testing.limits import MAX_SIDE, Shape

_SEEDS = st.integers(0, 2**31 - 2)
# The activations that keep the shape (glu halves the last axis: the
# Activation maker draws it where that axis is even).
SHAPE_KEEPING = tuple(name for name in activations.NAMES if name != "glu")


class LayerMaker(Protocol):
    """Draws a layer that accepts inputs of `shape` (sample shape), or returns None
    when no layer of its kind applies to that shape."""

    def __call__(self, draw: DrawFn, shape: Shape) -> Layer | None: ...


LAYER_MAKERS: dict[str, LayerMaker] = {}
"""The makers the strategies use when given no `makers`, by name.

This is the dict `layerc.testing.LAYER_MAKERS` starts as; the registry and the
strategies read `layerc.testing.LAYER_MAKERS` at call time (see `_package`), so
rebinding that attribute replaces the registry."""


def _registry() -> dict[str, LayerMaker]:
    """The package's current `LAYER_MAKERS`; this module's dict while the package
    is still being imported (the makers shipped register before the package has
    bound the name, and it binds this same dict)."""
    return getattr(package(), "LAYER_MAKERS", LAYER_MAKERS)


def register_layer_maker(name: str) -> Callable[[LayerMaker], LayerMaker]:
    """Registers a layer maker under `name` (decorator)."""

    def register(maker: LayerMaker) -> LayerMaker:
        makers = _registry()
        if name in makers:
            raise ValueError(f"layer maker {name!r} is registered twice")
        makers[name] = maker
        return maker

    return register


def draw_layer(draw: DrawFn, makers: Mapping[str, LayerMaker], shape: Shape) -> Layer:
    """A layer from the first maker, in a drawn order, that applies to `shape`."""
    for name in draw(st.permutations(sorted(makers))):
        layer = makers[name](draw, shape)
        if layer is not None:
            return layer
    raise ValueError(f"no layer maker applies to shape {shape}: {', '.join(sorted(makers))}")


def dense_layer(draw: DrawFn, units: int | None = None,
                activation_names: Sequence[str] = SHAPE_KEEPING) -> Dense:
    """A Dense with drawn units (unless given), activation and bias, and seeded
    weights; the bias is random rather than zero so the bias path is tested."""
    seeded = _seeded_initializers(draw)
    return Dense(draw(st.integers(1, MAX_SIDE)) if units is None else units,
                 activation=draw(st.sampled_from(tuple(activation_names))),
                 use_bias=draw(st.booleans()), **seeded)


def _seeded_initializers(draw: DrawFn) -> dict[str, initializers.Initializer]:
    """Kernel and bias initializers from one drawn seed (Glorot kernel, bias
    uniform in [-0.5, 0.5))."""
    seed = draw(_SEEDS)
    return {"kernel_initializer": initializers.GlorotUniform(seed=seed),
            "bias_initializer": initializers.RandomUniform(-0.5, 0.5, seed=seed + 1)}


def _activation_and_bias(draw: DrawFn) -> dict[str, Any]:
    """A drawn activation and use_bias, and seeded initializers: the options a
    convolution or locally-connected layer shares with Dense."""
    return {"activation": draw(st.sampled_from(SHAPE_KEEPING)),
            "use_bias": draw(st.booleans()), **_seeded_initializers(draw)}
