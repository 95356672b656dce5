"""Core layers against Keras 3: Dense on rank 2-4 inputs, Reshape (with -1),
Flatten in both data formats, Dropout at inference, plus hypothesis sweeps
over Dense shapes and Reshape targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.layers import Dense, Dropout, Flatten, Reshape
from layerc.testing import reshape_targets

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SWEEP = settings(max_examples=12, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "softmax", "gelu", "elu", "hard_sigmoid"]


def data(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return rng.uniform(-scale, scale, shape).astype(np.float32)


# ----- the harness itself -----
def test_oracle_detects_a_wrong_model(oracle, rng):
    """The comparison must fail when the two models differ (relu vs elu)."""
    dense = Dense(4, activation="relu", name="d")
    x = layerc.Input((6,))
    model = layerc.Model(x, dense(x))
    oracle.randomize(model, rng)
    kx = oracle.keras.Input((6,))
    kmodel = oracle.keras.Model(kx, oracle.layers.Dense(4, activation="elu", name="d")(kx))
    with pytest.raises(AssertionError, match="differ from Keras"):
        oracle.check(model, kmodel, data(rng, (8, 6), 3.0))


# ----- Dense -----
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("shape", [(7,), (5, 7), (2, 3, 7)], ids=["rank2", "rank3", "rank4"])
def test_dense_applies_to_the_last_axis(oracle, rng, shape, use_bias):
    dense = Dense(6, use_bias=use_bias, name="dense")
    x = layerc.Input(shape)
    y = dense(x)
    model = layerc.Model(x, y)
    assert y.shape == (None, *shape[:-1], 6)
    oracle.randomize(model, rng)
    assert len(dense.get_weights()) == (2 if use_bias else 1)
    kx = oracle.keras.Input(shape)
    kmodel = oracle.keras.Model(kx, oracle.layers.Dense(6, use_bias=use_bias, name="dense")(kx))
    oracle.check(model, kmodel, data(rng, (3, *shape)))


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7)], ids=["rank3", "rank4"])
def test_dense_stack_on_high_rank_without_bias(oracle, rng, shape):
    """Two Dense layers (no bias, then with a fused relu) over rank-3/4 inputs."""
    x = layerc.Input(shape)
    model = layerc.Model(x, Dense(3, activation="relu", name="b")(
        Dense(9, use_bias=False, name="a")(x)))
    oracle.randomize(model, rng)
    k = oracle.layers
    kx = oracle.keras.Input(shape)
    kmodel = oracle.keras.Model(kx, k.Dense(3, activation="relu", name="b")(
        k.Dense(9, use_bias=False, name="a")(kx)))
    oracle.check(model, kmodel, data(rng, (4, *shape)))


def test_spec_example_1_sequential_dense(oracle, rng):
    model = layerc.Sequential()
    model.add(Dense(32, input_shape=(16,), name="d1"))
    model.add(Dense(32, name="d2"))
    assert model.output_shape == (None, 32)
    oracle.randomize(model, rng, scale=0.3)
    k = oracle.layers
    kmodel = oracle.keras.Sequential([oracle.keras.Input((16,)), k.Dense(32, name="d1"),
                                      k.Dense(32, name="d2")])
    oracle.check(model, kmodel, data(rng, (5, 16)))


def test_predict_in_chunks_and_model_predict(oracle, rng):
    """CompiledModel.predict(batch_size=...) and Model.predict match Keras too."""
    x = layerc.Input((3, 4))
    model = layerc.Model(x, Dense(5, activation="tanh", name="d")(x))
    oracle.randomize(model, rng)
    kx = oracle.keras.Input((3, 4))
    kmodel = oracle.keras.Model(kx, oracle.layers.Dense(5, activation="tanh", name="d")(kx))
    oracle.copy_weights(model, kmodel)
    xs = data(rng, (7, 3, 4))
    want = kmodel.predict(xs, verbose=0)
    compiled = layerc.compile(model)
    oracle.assert_close(compiled.predict(xs, batch_size=3), want, "predict(batch_size=3)")
    oracle.assert_close(compiled.predict(xs, batch_size=1), want, "predict(batch_size=1)")
    oracle.assert_close(model.predict(xs), want, "Model.predict")


@SWEEP
@given(units=st.integers(1, 20), in_dim=st.integers(1, 12),
       middle=st.lists(st.integers(1, 4), max_size=2), batch=st.integers(1, 6),
       use_bias=st.booleans(), activation=st.sampled_from(ACTIVATIONS),
       seed=st.integers(0, 2**32 - 1))
def test_dense_sweep(oracle, units, in_dim, middle, batch, use_bias, activation, seed):
    rng = np.random.default_rng(seed)
    shape = (*middle, in_dim)
    x = layerc.Input(shape)
    model = layerc.Model(x, Dense(units, activation=activation, use_bias=use_bias,
                                  name="swept")(x))
    oracle.randomize(model, rng)
    kx = oracle.keras.Input(shape)
    kmodel = oracle.keras.Model(kx, oracle.layers.Dense(
        units, activation=activation, use_bias=use_bias, name="swept")(kx))
    oracle.check(model, kmodel, data(rng, (batch, *shape), 2.0))


# ----- Reshape -----
def test_reshape_minus_one(oracle, rng):
    x = layerc.Input((12,))
    y = Reshape((-1, 2, 2))(x)
    assert y.shape == (None, 3, 2, 2)
    model = layerc.Model(x, y)
    kx = oracle.keras.Input((12,))
    kmodel = oracle.keras.Model(kx, oracle.layers.Reshape((-1, 2, 2))(kx))
    oracle.check(model, kmodel, data(rng, (4, 12)))


def test_spec_example_3_reshape_chain(oracle, rng):
    first, second, third = Reshape((3, 4), input_shape=(12,)), Reshape((6, 2)), \
        Reshape((-1, 2, 2))
    model = layerc.Sequential()
    model.add(first)
    assert first.output_shape == (None, 3, 4)
    model.add(second)
    assert second.output_shape == (None, 6, 2)
    model.add(third)
    assert third.output_shape == (None, 3, 2, 2)
    k = oracle.layers
    kmodel = oracle.keras.Sequential([oracle.keras.Input((12,)), k.Reshape((3, 4)),
                                      k.Reshape((6, 2)), k.Reshape((-1, 2, 2))])
    assert tuple(kmodel.output_shape) == model.output_shape
    oracle.check(model, kmodel, data(rng, (3, 12)))


@pytest.mark.parametrize("shape,target", [
    ((12,), (3, 4)),
    ((12,), (-1, 2, 2)),
    ((4, 6), (-1,)),
    ((4, 6), (2, -1, 3)),
    ((2, 3, 4), (4, -1)),
    ((2, 3, 4), (-1, 6)),
    ((2, 3, 4), (3, 2, 4)),
    ((2, 3, 4), (1, 24)),
])
def test_reshape_between_dense_layers(oracle, rng, shape, target):
    """Dense -> Reshape -> Dense: the second Dense reads the reshaped last axis,
    so a view with the wrong memory order would show."""
    x = layerc.Input(shape)
    h = Dense(shape[-1], name="before")(x)
    r = Reshape(target)(h)
    model = layerc.Model(x, [r, Dense(3, name="after")(r)])
    oracle.randomize(model, rng)
    k = oracle.layers
    kx = oracle.keras.Input(shape)
    kr = k.Reshape(target)(k.Dense(shape[-1], name="before")(kx))
    kmodel = oracle.keras.Model(kx, [kr, k.Dense(3, name="after")(kr)])
    assert r.shape == tuple(kr.shape)
    oracle.check(model, kmodel, data(rng, (3, *shape)))


@st.composite
def reshape_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    return shape, draw(reshape_targets(math.prod(shape), max_rank=3))


@SWEEP
@given(case=reshape_cases(), batch=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_reshape_sweep(oracle, case, batch, seed):
    shape, target = case
    rng = np.random.default_rng(seed)
    x = layerc.Input(shape)
    r = Reshape(target)(x)
    model = layerc.Model(x, [r, Dense(2, name="after")(r)])
    oracle.randomize(model, rng)
    k = oracle.layers
    kx = oracle.keras.Input(shape)
    kr = k.Reshape(target)(kx)
    kmodel = oracle.keras.Model(kx, [kr, k.Dense(2, name="after")(kr)])
    assert r.shape == tuple(kr.shape)
    oracle.check(model, kmodel, data(rng, (batch, *shape)))


# ----- Flatten -----
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("shape", [(6,), (3, 5), (2, 3, 4)], ids=["rank2", "rank3", "rank4"])
def test_flatten(oracle, rng, shape, data_format):
    """Flatten(channels_first) moves the channel axis last before flattening."""
    x = layerc.Input(shape)
    flat = Flatten(data_format=data_format)(x)
    inner = Flatten(data_format=data_format)(Dense(4, name="before")(x))
    model = layerc.Model(x, [flat, Dense(3, name="after")(inner)])
    oracle.randomize(model, rng)
    k = oracle.layers
    kx = oracle.keras.Input(shape)
    kflat = k.Flatten(data_format=data_format)(kx)
    kinner = k.Flatten(data_format=data_format)(k.Dense(4, name="before")(kx))
    kmodel = oracle.keras.Model(kx, [kflat, k.Dense(3, name="after")(kinner)])
    assert flat.shape == (None, math.prod(shape))
    xs = data(rng, (3, *shape))
    out = oracle.check(model, kmodel, xs)
    if data_format == "channels_first" and len(shape) > 1:
        # the case really reorders, so a Flatten that ignored data_format would fail
        assert not np.array_equal(out.keras[0], xs.reshape(3, -1))


def test_flatten_then_reshape_round_trip(oracle, rng):
    x = layerc.Input((2, 3, 4))
    f = Flatten(data_format="channels_first")(x)
    r = Reshape((3, 4, 2))(f)
    model = layerc.Model(x, Dense(5, name="d")(r))
    oracle.randomize(model, rng)
    k = oracle.layers
    kx = oracle.keras.Input((2, 3, 4))
    kr = k.Reshape((3, 4, 2))(k.Flatten(data_format="channels_first")(kx))
    kmodel = oracle.keras.Model(kx, k.Dense(5, name="d")(kr))
    oracle.check(model, kmodel, data(rng, (3, 2, 3, 4)))


# ----- Dropout -----
@pytest.mark.parametrize("kwargs", [{"rate": 0.5}, {"rate": 0.9, "seed": 3},
                                    {"rate": 0.3, "noise_shape": (None, 1, 8)}],
                         ids=["plain", "seeded", "noise_shape"])
def test_dropout_is_identity_at_inference(oracle, rng, kwargs):
    x = layerc.Input((4, 6))
    h = Dropout(**kwargs)(Dense(8, activation="relu", name="d1")(x))
    model = layerc.Model(x, Dense(3, name="d2")(h))
    oracle.randomize(model, rng)
    k = oracle.layers
    kx = oracle.keras.Input((4, 6))
    kh = k.Dropout(**kwargs)(k.Dense(8, activation="relu", name="d1")(kx))
    kmodel = oracle.keras.Model(kx, k.Dense(3, name="d2")(kh))
    oracle.check(model, kmodel, data(rng, (5, 4, 6)))
    ones = np.ones((5, 4, 6), np.float32)
    oracle.assert_close(layerc.compile(model).predict(ones),
                        kmodel.predict(ones, verbose=0), "compiled vs keras.predict")


@pytest.mark.parametrize("layer", ["dropout", "flatten", "reshape"])
def test_layer_directly_on_the_input_as_output(oracle, rng, layer):
    """A model whose output is a (removed or zero-copy) view of its input."""
    make = {"dropout": lambda m: m.Dropout(0.5), "flatten": lambda m: m.Flatten(),
            "reshape": lambda m: m.Reshape((-1, 3))}[layer]
    x = layerc.Input((2, 6))
    model = layerc.Model(x, make(layerc.layers)(x))
    kx = oracle.keras.Input((2, 6))
    kmodel = oracle.keras.Model(kx, make(oracle.layers)(kx))
    xs = data(rng, (3, 2, 6))
    before = xs.copy()
    oracle.check(model, kmodel, xs)
    y = layerc.compile(model).predict(xs)
    y += 1.0  # the result must not alias the caller's input
    np.testing.assert_array_equal(xs, before)
