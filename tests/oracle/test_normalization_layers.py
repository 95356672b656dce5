"""BatchNormalization against Keras 3 at inference: hypothesis over input
ranks, the normalized axis (either sign), center, scale and epsilon; after
a Dense and a convolution in both data formats (fold-batchnorm folds it),
after an activation (it runs as a scale and shift), with a mask passing
through it into an LSTM, and through `from_keras` with its option table."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc import ConfigError
from layerc.ir import OpKind
from layerc.layers import BatchNormalization, Input

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SWEEP = settings(max_examples=12, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
ATOL, RTOL = 1e-5, 1e-5


def statistics(model, rng):
    """Every BatchNormalization's weights far from the identity, variances
    positive: gamma and beta in [-2, 2), means in [-1, 1), variances in
    [0.25, 4)."""
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            ws = layer.get_weights()
            layer.set_weights([rng.uniform(0.25, 4.0, w.shape) if i == len(ws) - 1 else
                               rng.uniform(-1.0, 1.0, w.shape) if i == len(ws) - 2 else
                               rng.uniform(-2.0, 2.0, w.shape) for i, w in enumerate(ws)])


@SWEEP
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
       data=st.data(), center=st.booleans(), scale=st.booleans(),
       epsilon=st.sampled_from([1e-3, 1e-5, 0.5]), batch=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_batch_normalization_matches_keras(oracle, shape, data, center, scale, epsilon, batch,
                                           seed):
    rank = len(shape) + 1
    axis = data.draw(st.integers(1, rank - 1))
    axis = axis - rank if data.draw(st.booleans()) else axis
    rng = np.random.default_rng(seed)
    options = dict(axis=axis, center=center, scale=scale, epsilon=epsilon, name="bn")
    model = layerc.Sequential([Input(shape), BatchNormalization(**options)])
    statistics(model, rng)
    kmodel = oracle.keras.Sequential([oracle.keras.Input(shape),
                                      oracle.layers.BatchNormalization(**options)])
    x = rng.uniform(-3, 3, (batch, *shape)).astype(np.float32)
    oracle.check(model, kmodel, x, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("case", ["dense", "conv channels_last", "conv channels_first",
                                  "after relu"])
def test_folded_and_unfolded_match_keras(oracle, rng, case):
    first = case == "conv channels_first"
    shape = (3, 7, 7) if first else (7, 7, 3)
    if case == "dense":
        body = lambda L: [L.Dense(6, name="p"), L.BatchNormalization(name="bn"),  # noqa: E731
                          L.Activation("relu")]
        shape = (5, 4)
    elif case == "after relu":
        body = lambda L: [L.Conv2D(4, 3, activation="relu", name="p"),  # noqa: E731
                          L.BatchNormalization(name="bn")]
    else:
        fmt = "channels_first" if first else "channels_last"
        body = lambda L: [L.Conv2D(4, 3, data_format=fmt, name="p"),  # noqa: E731
                          L.BatchNormalization(axis=1 if first else -1, name="bn"),
                          L.Activation("relu")]
    model = layerc.Sequential([Input(shape), *body(layerc.layers)])
    oracle.randomize(model, rng)
    statistics(model, rng)
    kmodel = oracle.keras.Sequential([oracle.keras.Input(shape), *body(oracle.layers)])
    oracle.check(model, kmodel, rng.uniform(-1, 1, (4, *shape)).astype(np.float32),
                 atol=ATOL, rtol=RTOL)
    folded = OpKind.BATCH_NORM not in [n.op for n in layerc.compile(model).graph.nodes()]
    assert folded == (case != "after relu")


def test_a_mask_passes_through_into_the_lstm(oracle, rng):
    def layers(L):
        return [L.Embedding(9, 4, mask_zero=True, name="emb"), L.BatchNormalization(name="bn"),
                L.LSTM(3, name="lstm")]

    model = layerc.Sequential([Input((6,), dtype="int32"), *layers(layerc.layers)])
    oracle.randomize(model, rng)
    statistics(model, rng)
    kmodel = oracle.keras.Sequential([oracle.keras.Input((6,), dtype="int32"),
                                      *layers(oracle.layers)])
    tokens = rng.integers(1, 9, (4, 6))
    tokens[1, 3:] = 0
    tokens[2, 1:] = 0
    oracle.check(model, kmodel, tokens, atol=ATOL, rtol=RTOL)


def test_from_keras_converts_and_refuses_renorm(oracle, rng):
    k = oracle.keras
    kmodel = k.Sequential([k.Input((6, 6, 2)), k.layers.Conv2D(3, 3, name="c"),
                           k.layers.BatchNormalization(momentum=0.9, epsilon=1e-4, name="bn")])
    for w in kmodel.get_layer("bn").weights:
        w.assign(rng.uniform(0.5, 2.0, w.shape).astype(np.float32))
    model = layerc.from_keras(kmodel)
    x = rng.uniform(-1, 1, (3, 6, 6, 2)).astype(np.float32)
    want = np.asarray(k.ops.convert_to_numpy(kmodel(x, training=False)))
    oracle.assert_close(layerc.compile(model).predict(x), want, "from_keras", ATOL, RTOL)
    renorm = k.Sequential([k.Input((4,)), k.layers.BatchNormalization(renorm=True, name="rn")])
    with pytest.raises(ConfigError, match=r"'rn'.*renorm=True.*only False"):
        layerc.from_keras(renorm)


def test_refuses_the_batch_axis_and_a_non_int_axis():
    with pytest.raises(layerc.ShapeError, match=r"bn .*axis 0 .*batch axis"):
        layerc.Sequential([Input((3, 4)), BatchNormalization(axis=0, name="bn")])
    with pytest.raises(ConfigError, match=r"axis must be an int"):
        BatchNormalization(axis=[1, 2])


@SWEEP
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), data=st.data(),
       batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_rescaling_matches_keras(oracle, shape, data, batch, seed):
    """A number or one value per channel of the last axis, for scale and offset."""
    def values(scale):
        number = st.floats(-scale, scale, allow_nan=False, width=32)
        return data.draw(number | st.lists(number, min_size=shape[-1], max_size=shape[-1]))

    options = dict(scale=values(2.0), offset=values(1.0), name="rescale")
    model = layerc.Sequential([Input(shape), layerc.layers.Rescaling(**options)])
    kmodel = oracle.keras.Sequential([oracle.keras.Input(shape),
                                      oracle.layers.Rescaling(**options)])
    x = np.random.default_rng(seed).uniform(-3, 3, (batch, *shape)).astype(np.float32)
    oracle.check(model, kmodel, x, atol=ATOL, rtol=RTOL)
    converted = layerc.from_keras(kmodel)
    oracle.assert_close(layerc.compile(converted).predict(x), oracle.run_keras(kmodel, [x])[0],
                        "from_keras", ATOL, RTOL)


def test_rescaling_refuses_what_is_not_numbers():
    with pytest.raises(ConfigError, match=r"scale must be a number or a 1-D sequence"):
        layerc.layers.Rescaling([[1.0, 2.0]])
    with pytest.raises(layerc.ShapeError, match=r"offset has 2 values; expected 1 or one per"):
        layerc.Sequential([Input((4, 3)), layerc.layers.Rescaling(1.0, offset=[0.5, 1.0])])
