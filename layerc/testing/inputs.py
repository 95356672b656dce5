"""Model inputs: seeded float32 arrays that fit a model's inputs (`inputs_for`)
and the hypothesis strategy over them (`model_inputs`)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc.ir import Graph, TensorType
from layerc.models import Model

INPUT_RANGE = (-2.0, 2.0)
"""The default range of input values: moderate, so activations see both their
linear and their saturating parts."""

_INPUT_SALT = 0x1A7E5EED


def _input_types(model: Model | Graph) -> list[tuple[str, TensorType]]:
    if isinstance(model, Graph):
        return [(i, model.node(i).type) for i in model.inputs]
    return [(t.layer.name, t.type) for t in model.inputs]


def inputs_for(model: Model | Graph, batch: int, seed: int = 0,
               low: float = INPUT_RANGE[0], high: float = INPUT_RANGE[1],
               nan_fraction: float = 0.0) -> list[np.ndarray]:
    """One float32 array of shape (batch, *sample shape) per model input, uniform
    in [low, high) from a generator seeded with `seed`; with nan_fraction > 0
    about that share of the values is NaN.

    The generator is seeded with (seed, a salt), not with `seed` alone: an
    initializer seeded with the same integer (hypothesis often draws one integer
    twice) would otherwise hold the same random sequence as the inputs, and a
    convolution whose kernel equals its input window sums hundreds of terms of one
    sign, far beyond the values the magnitude probe saw."""
    rng = np.random.default_rng((seed, _INPUT_SALT))
    arrays = []
    for name, t in _input_types(model):
        if t.dtype != "float32":
            raise ValueError(f"inputs_for: input {name!r} is {t}; only float inputs are "
                             f"drawn, pass this model's inputs explicitly")
        if any(d is None for d in t.sample_shape):
            raise ValueError(f"inputs_for: input {name!r} has an unknown dimension ({t}); "
                             f"pass this model's inputs explicitly")
        x = rng.uniform(low, high, (batch, *t.sample_shape)).astype(np.float32)  # type: ignore
        if nan_fraction > 0:
            x[rng.random(x.shape) < nan_fraction] = np.nan
        arrays.append(x)
    return arrays


@st.composite
def model_inputs(draw: DrawFn, model: Model | Graph, batch: int | None = None,
                 low: float = INPUT_RANGE[0], high: float = INPUT_RANGE[1],
                 allow_nan: bool = False) -> list[np.ndarray]:
    """Inputs for `model`: a batch of 1..5 (unless given) of finite float32 values
    in [low, high); with allow_nan, some examples also hold NaNs."""
    size = draw(st.integers(1, 5)) if batch is None else batch
    nan = 0.1 if allow_nan and draw(st.booleans()) else 0.0
    return inputs_for(model, size, draw(st.integers(0, 2**32 - 1)), low, high, nan)
