"""Every Keras activation by name: as an Activation layer, as Dense(activation=...),
as an Activation after a linear Dense (the fusion pass folds it in), given as a
layerc.activations function, and the NumPy functions themselves; glu (which
halves the last axis) among them; threshold, which Keras cannot call by name,
refused."""

from __future__ import annotations

import numpy as np
import pytest

import layerc
from layerc.layers import Activation, Dense

NAMES = ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
         "hard_sigmoid", "tanh", "softmax", "log_softmax", "softplus", "softsign", "swish",
         "silu", "hard_silu", "exponential", "mish", "celu", "hard_tanh", "hard_shrink",
         "soft_shrink", "tanh_shrink", "log_sigmoid", "sparse_plus", "sparse_sigmoid",
         "squareplus", "sparsemax", "glu"]

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

UNITS = 16


def span(name: str) -> float:
    """Inputs cover [-span, span]: wide enough to reach every saturated region;
    narrower for exponential, whose values would otherwise dwarf float32."""
    return 4.0 if name == "exponential" else 8.0


def tolerances(name: str) -> dict[str, float]:
    return {"atol": 1e-5, "rtol": 1e-5} if name == "exponential" else {"atol": 1e-5}


def sample(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Uniform values in [-scale, scale] that also hit the kinks and edges of the
    piecewise activations (0, +-3 for hard_sigmoid, 6 for relu6, the ends)."""
    x = rng.uniform(-scale, scale, shape)
    points = [-scale, -6.0, -3.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 3.0, 6.0, scale, -0.5, 2.5, 0.5]
    flat = x.reshape(-1)
    for i, p in enumerate(q for q in points if abs(q) <= scale):
        flat[i * 3 % flat.size] = p  # spread over rows so softmax rows differ
    return x.astype(np.float32)


def near_identity_dense(rng: np.random.Generator, dense: Dense) -> None:
    """A kernel close to the identity, so pre-activations span the input range."""
    kernel = np.eye(UNITS) + rng.uniform(-0.05, 0.05, (UNITS, UNITS))
    bias = rng.uniform(-0.1, 0.1, UNITS)
    dense.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])


@pytest.mark.parametrize("name", NAMES)
def test_activation_layer(oracle, rng, name):
    k = oracle.layers
    x = layerc.Input((4, UNITS))
    model = layerc.Model(x, Activation(name)(x))
    kx = oracle.keras.Input((4, UNITS))
    kmodel = oracle.keras.Model(kx, k.Activation(name)(kx))
    xs = sample(rng, (3, 4, UNITS), span(name))
    oracle.check(model, kmodel, xs, **tolerances(name))


@pytest.mark.parametrize("name", NAMES)
def test_dense_activation(oracle, rng, name):
    k = oracle.layers
    dense = Dense(UNITS, activation=name, name="dense_act")
    x = layerc.Input((2, UNITS))
    model = layerc.Model(x, dense(x))
    near_identity_dense(rng, dense)
    kx = oracle.keras.Input((2, UNITS))
    kmodel = oracle.keras.Model(kx, k.Dense(UNITS, activation=name, name="dense_act")(kx))
    xs = sample(rng, (5, 2, UNITS), span(name))
    oracle.check(model, kmodel, xs, **tolerances(name))


@pytest.mark.parametrize("name", NAMES)
def test_dense_then_activation_layer(oracle, rng, name):
    """Dense(linear) followed by an Activation layer: a fusion candidate."""
    k = oracle.layers
    dense = Dense(UNITS, name="dense_lin")
    x = layerc.Input((UNITS,))
    model = layerc.Model(x, Activation(name)(dense(x)))
    near_identity_dense(rng, dense)
    kx = oracle.keras.Input((UNITS,))
    kmodel = oracle.keras.Model(kx, k.Activation(name)(k.Dense(UNITS, name="dense_lin")(kx)))
    xs = sample(rng, (4, UNITS), span(name))
    oracle.check(model, kmodel, xs, **tolerances(name))


@pytest.mark.parametrize("name", NAMES)
def test_activation_given_as_layerc_function(oracle, rng, name):
    """`activation=layerc.activations.<name>` means the same as the name."""
    k = oracle.layers
    fn = getattr(layerc.activations, name)
    dense = Dense(UNITS, activation=fn, name="dense_fn")
    x = layerc.Input((UNITS,))
    model = layerc.Model(x, [Activation(fn)(x), dense(x)])
    near_identity_dense(rng, dense)
    kx = oracle.keras.Input((UNITS,))
    kmodel = oracle.keras.Model(kx, [k.Activation(name)(kx),
                                     k.Dense(UNITS, activation=name, name="dense_fn")(kx)])
    xs = sample(rng, (3, UNITS), span(name))
    oracle.check(model, kmodel, xs, **tolerances(name))


@pytest.mark.parametrize("name", NAMES + ["hard_swish"])
def test_numpy_activation_functions(oracle, rng, name):
    """layerc.activations.<name>(array) against keras.activations.<name>."""
    x = sample(rng, (3, 5, UNITS), span(name))
    got = getattr(layerc.activations, name)(x)
    want = oracle.keras.ops.convert_to_numpy(oracle.keras.activations.get(name)(x))
    oracle.assert_close(got, want, f"layerc.activations.{name}", **tolerances(name))


def test_hard_swish_alias(oracle, rng):
    k = oracle.layers
    dense = Dense(UNITS, activation="hard_swish", name="dense_hs")
    x = layerc.Input((UNITS,))
    model = layerc.Model(x, [Activation("hard_swish")(x), dense(x)])
    near_identity_dense(rng, dense)
    kx = oracle.keras.Input((UNITS,))
    kmodel = oracle.keras.Model(kx, [k.Activation("hard_swish")(kx),
                                     k.Dense(UNITS, activation="hard_swish", name="dense_hs")(kx)])
    oracle.check(model, kmodel, sample(rng, (4, UNITS), 8.0))


def test_default_activation_is_linear(oracle, rng):
    """Dense() and Activation(None) apply no activation, as in Keras."""
    k = oracle.layers
    dense = Dense(UNITS, name="dense_default")
    x = layerc.Input((UNITS,))
    model = layerc.Model(x, [Activation(None)(x), dense(x)])
    oracle.randomize(model, rng)
    kx = oracle.keras.Input((UNITS,))
    kmodel = oracle.keras.Model(kx, [k.Activation(None)(kx),
                                     k.Dense(UNITS, name="dense_default")(kx)])
    out = oracle.check(model, kmodel, sample(rng, (4, UNITS), 8.0))
    assert (out.keras[1] < 0).any(), "the test needs negative outputs to see a missing relu"


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "sparsemax"])
def test_row_wise_activation_on_rank4(oracle, rng, name):
    """softmax/log_softmax/sparsemax normalize over the last axis only, on any rank."""
    k = oracle.layers
    dense = Dense(7, activation=name, name="dense_row")
    x = layerc.Input((2, 3, 5))
    model = layerc.Model(x, [Activation(name)(x), dense(x)])
    oracle.randomize(model, rng, scale=2.0)
    kx = oracle.keras.Input((2, 3, 5))
    kmodel = oracle.keras.Model(kx, [k.Activation(name)(kx),
                                     k.Dense(7, activation=name, name="dense_row")(kx)])
    out = oracle.check(model, kmodel, sample(rng, (3, 2, 3, 5), 8.0))
    if name != "log_softmax":  # the sums say which axis was normalized (Keras 3.15's
        # sparsemax does not sum to 1, so compare with Keras's own sums)
        np.testing.assert_allclose(out.compiled[0].sum(axis=-1), out.keras[0].sum(axis=-1),
                                   atol=1e-5)
    if name == "softmax":
        np.testing.assert_allclose(out.compiled[0].sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("where", ["layer", "dense"])
def test_threshold_is_refused_by_name(where):
    """keras.activations.threshold needs two arguments a name cannot give."""
    with pytest.raises(layerc.ConfigError, match="threshold.*needs its threshold and "
                                                 "default_value"):
        Activation("threshold") if where == "layer" else Dense(3, activation="threshold")


def test_glu_is_no_recurrent_activation():
    with pytest.raises(layerc.ConfigError, match="glu halves"):
        layerc.layers.LSTM(4, recurrent_activation="glu")


def test_sparsemax_in_a_recurrent_cell(oracle, rng):
    """A row-wise activation inside the recurrent step (across a gate block)."""
    k = oracle.layers
    model = layerc.Sequential([layerc.Input((5, 3)), layerc.layers.GRU(4, activation="sparsemax",
                                                                       name="gru")])
    oracle.randomize(model, rng, scale=1.0)
    kmodel = oracle.keras.Sequential([oracle.keras.Input((5, 3)),
                                      k.GRU(4, activation="sparsemax", name="gru")])
    oracle.check(model, kmodel, sample(rng, (3, 5, 3), 2.0), atol=2e-5)
