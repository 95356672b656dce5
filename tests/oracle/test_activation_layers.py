"""The activation layers with parameters against Keras 3: ReLU (max_value,
negative_slope, threshold), LeakyReLU, ELU, PReLU (shared axes), Softmax
(any axis, adjacent axes); hypothesis over shapes and parameters. With an
activation name's parameters they are the fusable Activation op; Softmax
refuses a mask."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc import ConfigError, ShapeError
from layerc.ir import OpKind
from layerc.layers import ELU, Dense, Embedding, Input, LeakyReLU, PReLU, ReLU, Softmax

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SWEEP = settings(max_examples=10, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
SHAPES = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


def values(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform in [-4, 4) with the kinks (0 and the drawn thresholds' grid) hit."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4, 4, shape)
    x.reshape(-1)[::3] = np.round(x.reshape(-1)[::3] * 2) / 2
    return x.astype(np.float32)


def pair(oracle, shape, make):
    """The same layer (from `make(module)`) in layerc and in Keras."""
    model = layerc.Sequential([Input(shape), make(layerc.layers)])
    kmodel = oracle.keras.Sequential([oracle.keras.Input(shape), make(oracle.layers)])
    return model, kmodel


@SWEEP
@given(shape=SHAPES, max_value=st.sampled_from([None, 0.5, 2.0, 6.0]),
       slope=st.sampled_from([0.0, 0.1, 0.3]), threshold=st.sampled_from([0.0, 0.5, 1.5, 7.0]),
       batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_relu_matches_keras(oracle, shape, max_value, slope, threshold, batch, seed):
    model, kmodel = pair(oracle, shape, lambda m: m.ReLU(max_value=max_value,
                                                         negative_slope=slope,
                                                         threshold=threshold, name="r"))
    oracle.check(model, kmodel, values(seed, (batch, *shape)))


@SWEEP
@given(shape=SHAPES, slope=st.sampled_from([0.01, 0.2, 0.3, 1.5]), alpha=st.floats(0.1, 3.0),
       batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_leaky_relu_and_elu_match_keras(oracle, shape, slope, alpha, batch, seed):
    x = values(seed, (batch, *shape))
    model, kmodel = pair(oracle, shape, lambda m: m.LeakyReLU(slope, name="l"))
    oracle.check(model, kmodel, x)
    model, kmodel = pair(oracle, shape, lambda m: m.ELU(alpha, name="e"))
    oracle.check(model, kmodel, x, atol=1e-5, rtol=1e-6)


def test_leaky_relu_default_is_keras_layer_default(oracle, rng):
    """LeakyReLU() slopes 0.3 (the layer's default), not the activation's 0.2."""
    model, kmodel = pair(oracle, (4,), lambda m: m.LeakyReLU(name="l"))
    out = oracle.check(model, kmodel, values(1, (3, 4)))
    x = values(1, (3, 4))
    np.testing.assert_allclose(out.compiled[0][x < 0], 0.3 * x[x < 0], rtol=1e-6)


@SWEEP
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data(),
       batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_prelu_matches_keras(oracle, shape, data, batch, seed):
    shared = data.draw(st.lists(st.integers(1, len(shape)), unique=True, max_size=len(shape)))
    model, kmodel = pair(oracle, shape, lambda m: m.PReLU(shared_axes=shared or None, name="p"))
    oracle.randomize(model, np.random.default_rng(seed), scale=2.0)
    oracle.check(model, kmodel, values(seed, (batch, *shape)))


@SWEEP
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data(),
       batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_softmax_on_any_axes_matches_keras(oracle, shape, data, batch, seed):
    rank = len(shape) + 1
    first = data.draw(st.integers(1, rank - 1))
    last = data.draw(st.integers(first, rank - 1))
    axes = [a - rank if data.draw(st.booleans()) else a for a in range(first, last + 1)]
    axis = axes[0] if len(axes) == 1 else axes
    model, kmodel = pair(oracle, shape, lambda m: m.Softmax(axis=axis, name="s"))
    oracle.check(model, kmodel, values(seed, (batch, *shape)), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("layer, fused", [
    (lambda: ReLU(), "relu"), (lambda: ReLU(max_value=6), "relu6"),
    (lambda: LeakyReLU(0.2), "leaky_relu"), (lambda: ELU(), "elu"),
    (lambda: Softmax(), "softmax"), (lambda: ReLU(max_value=3), None),
    (lambda: ELU(0.5), None)])
def test_default_parameters_fuse_into_the_dense(layer, fused):
    """An activation name's parameters emit the Activation op, which
    fuse-activation folds into the Dense before it; others stay an op."""
    model = layerc.Sequential([Input((4,)), Dense(3, name="d"), layer()])
    graph = layerc.compile(model).graph
    dense = next(n for n in graph.nodes() if n.op is OpKind.DENSE)
    assert dense.attrs.activation == (fused or "linear")
    assert len([n for n in graph.nodes() if n.op is not OpKind.INPUT]) == (1 if fused else 2)


def test_softmax_refuses_a_mask():
    with pytest.raises(ConfigError, match="s .*a mask reaches this Softmax"):
        layerc.Sequential([Input((4,), dtype="int32"), Embedding(9, 3, mask_zero=True),
                           Softmax(axis=1, name="s")])


@pytest.mark.parametrize("make, message", [
    (lambda: Softmax(axis=[1, 3], name="s"), "s .*adjacent sample axes"),
    (lambda: PReLU(shared_axes=[4], name="p"), "p .*shared axis 4 is not a sample axis"),
])
def test_refusals_name_the_layer(make, message):
    with pytest.raises(ShapeError, match=message):
        layerc.Sequential([Input((2, 3, 4)), make()])


@pytest.mark.parametrize("make, message", [
    (lambda: ReLU(negative_slope=-1), "negative_slope must be a number >= 0"),
    (lambda: ReLU(max_value=-1), "max_value must be a number >= 0"),
    (lambda: ReLU(threshold=-1), "threshold must be a number >= 0"),
    (lambda: PReLU(shared_axes=[0]), "the batch axis 0 cannot be shared"),
    (lambda: Softmax(axis="x"), "axis must be an int or a list of ints"),
])
def test_bad_options_are_config_errors(make, message):
    with pytest.raises(ConfigError, match=message):
        make()
