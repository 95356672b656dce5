"""The normalization layers against Keras 3 at inference. BatchNormalization:
hypothesis over input ranks, the normalized axis (either sign), center,
scale and epsilon; after a Dense and a convolution in both data formats
(fold-batchnorm folds it), after an activation (it runs as a scale and
shift), with a mask passing through it into an LSTM, and through
`from_keras` with its option table. LayerNormalization (axes, center, scale,
rms_scaling), GroupNormalization (groups, first or last channel axis),
RMSNormalization, UnitNormalization and Normalization (given, adapted,
inverted): hypothesis sweeps against Keras and from_keras."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc import ConfigError
from layerc.ir import OpKind
from layerc.layers import BatchNormalization, Input
from layerc.testing import assert_compiles_like_reference

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


def trailing_axes(data, shape):
    """A block of adjacent axes ending at the last (Keras's torch backend
    takes only those; middle blocks are checked against the reference)."""
    rank = len(shape) + 1
    first = data.draw(st.integers(1, rank - 1))
    return [a - rank if data.draw(st.booleans()) else a for a in range(first, rank)]


def keras_twin(oracle, shape, options, cls):
    model = layerc.Sequential([Input(shape), getattr(layerc.layers, cls)(**options)])
    kmodel = oracle.keras.Sequential([oracle.keras.Input(shape),
                                      getattr(oracle.layers, cls)(**options)])
    return model, kmodel


@SWEEP
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), data=st.data(),
       center=st.booleans(), scale=st.booleans(), rms=st.booleans(),
       epsilon=st.sampled_from([1e-3, 1e-6, 0.5]), batch=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_layer_normalization_matches_keras(oracle, shape, data, center, scale, rms, epsilon,
                                           batch, seed):
    axes = trailing_axes(data, shape)
    options = dict(axis=axes[0] if len(axes) == 1 else axes, center=center, scale=scale,
                   rms_scaling=rms, epsilon=epsilon, name="ln")
    model, kmodel = keras_twin(oracle, shape, options, "LayerNormalization")
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng, scale=2.0)
    x = rng.uniform(-3, 3, (batch, *shape)).astype(np.float32)
    oracle.check(model, kmodel, x, atol=2e-5, rtol=2e-5)


def test_layer_normalization_over_a_middle_block_and_refusals(rng):
    """Adjacent axes anywhere agree with the reference on every pipeline;
    axes that are not adjacent are refused naming the layer."""
    model = layerc.Sequential([Input((3, 4, 5)),
                               layerc.layers.LayerNormalization(axis=[1, 2], name="ln")])
    ws = model.layers[0].get_weights()
    model.layers[0].set_weights([rng.uniform(-2, 2, w.shape) for w in ws])
    x = rng.uniform(-3, 3, (2, 3, 4, 5)).astype(np.float32)
    assert_compiles_like_reference(model, [x])
    rms = layerc.Sequential([Input((3, 4, 5)), layerc.layers.RMSNormalization(axis=[1, 2])])
    assert_compiles_like_reference(rms, [x])
    with pytest.raises(layerc.ShapeError, match=r"ln .*adjacent sample axes"):
        layerc.Sequential([Input((3, 4, 5)),
                           layerc.layers.LayerNormalization(axis=[1, 3], name="ln")])


@SWEEP
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), data=st.data(),
       epsilon=st.sampled_from([1e-6, 1e-3, 0.5]), batch=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_rms_normalization_matches_keras(oracle, shape, data, epsilon, batch, seed):
    """x / sqrt(mean(x^2) + epsilon) * scale over the last axis (a large
    mean shows it is not LayerNormalization's rms_scaling, about the mean;
    Keras 3.15 with the torch backend normalizes the last axis whatever
    `axis` says, so only that is compared); with an Identity after it, which
    converts too."""
    options = dict(axis=data.draw(st.sampled_from([-1, len(shape)])), epsilon=epsilon,
                   name="rms")

    def build(ns):
        x = ns.Input(shape)
        return ns.Model(x, ns.layers.Identity()(ns.layers.RMSNormalization(**options)(x)))

    model, kmodel = build(layerc), build(oracle.keras)
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng, scale=2.0)
    x = rng.uniform(1, 4, (batch, *shape)).astype(np.float32)
    out = oracle.check(model, kmodel, x, atol=2e-5, rtol=2e-5)
    oracle.assert_close(layerc.compile(layerc.from_keras(kmodel)).predict(x), out.keras[0],
                        "from_keras", 2e-5, 2e-5)


@SWEEP
@given(spatial=st.lists(st.integers(1, 4), min_size=0, max_size=2).map(tuple), data=st.data(),
       first=st.booleans(), center=st.booleans(), scale=st.booleans(), batch=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_group_normalization_matches_keras(oracle, spatial, data, first, center, scale, batch,
                                           seed):
    groups = data.draw(st.integers(1, 4))
    channels = groups * data.draw(st.integers(1, 3))
    shape = (channels, *spatial) if first and spatial else (*spatial, channels)
    options = dict(groups=groups, axis=1 if first and spatial else -1, center=center,
                   scale=scale, name="gn")
    model, kmodel = keras_twin(oracle, shape, options, "GroupNormalization")
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng, scale=2.0)
    x = rng.uniform(-3, 3, (batch, *shape)).astype(np.float32)
    oracle.check(model, kmodel, x, atol=2e-5, rtol=2e-5)


@SWEEP
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), data=st.data(),
       batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_unit_normalization_matches_keras(oracle, shape, data, batch, seed):
    rank = len(shape) + 1
    axes = sorted(data.draw(st.lists(st.integers(1, rank - 1), min_size=1, unique=True)))
    axes = list(range(axes[0], axes[-1] + 1))  # adjacent
    model, kmodel = keras_twin(oracle, shape, dict(axis=axes, name="un"), "UnitNormalization")
    x = np.random.default_rng(seed).uniform(-3, 3, (batch, *shape)).astype(np.float32)
    x[0] = 0.0  # a zero norm: the inverse is capped, not infinite
    oracle.check(model, kmodel, x, atol=1e-6, rtol=1e-5)


@SWEEP
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data(),
       invert=st.booleans(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_normalization_given_and_adapted_matches_keras(oracle, shape, data, invert, batch,
                                                       seed):
    """Statistics given at construction (over any kept axes) in layerc and
    Keras; and a Keras layer adapted on data, through from_keras."""
    rng = np.random.default_rng(seed)
    rank = len(shape) + 1
    kept = data.draw(st.lists(st.integers(1, rank - 1), unique=True, max_size=rank - 1))
    axis = None if not kept else (kept[0] if len(kept) == 1 else sorted(kept))
    stat_shape = tuple(shape[a - 1] for a in sorted(kept))
    mean = rng.uniform(-2, 2, stat_shape)
    variance = rng.uniform(0.1, 4, stat_shape)
    options = dict(axis=axis, mean=mean, variance=variance, invert=invert, name="norm")
    model, kmodel = keras_twin(oracle, shape, options, "Normalization")
    x = rng.uniform(-3, 3, (batch, *shape)).astype(np.float32)
    oracle.check(model, kmodel, x, copy=False, atol=2e-5, rtol=2e-5)
    k = oracle.keras
    adapted = k.layers.Normalization(axis=axis, invert=invert, name="norm")
    adapted.adapt(rng.normal(1.0, 2.0, (16, *shape)).astype(np.float32))
    kmodel = k.Sequential([k.Input(shape), adapted])
    oracle.assert_close(layerc.compile(layerc.from_keras(kmodel)).predict(x),
                        oracle.run_keras(kmodel, [x])[0], "from_keras", 2e-5, 2e-5)


def test_normalization_refuses_half_the_statistics():
    with pytest.raises(ConfigError, match="give both mean and variance"):
        layerc.layers.Normalization(mean=[1.0])


@pytest.mark.parametrize("cls, options", [
    ("LayerNormalization", dict(axis=[-2, -1], epsilon=1e-4, rms_scaling=True)),
    ("GroupNormalization", dict(groups=2, center=False)),
    ("UnitNormalization", dict(axis=-1))])
def test_from_keras_converts_the_option_tables(oracle, rng, cls, options):
    k = oracle.keras
    kmodel = k.Sequential([k.Input((3, 4)), getattr(k.layers, cls)(**options, name="n")])
    for w in kmodel.weights:
        w.assign(rng.uniform(-2, 2, w.shape).astype(np.float32))
    x = rng.uniform(-3, 3, (2, 3, 4)).astype(np.float32)
    oracle.assert_close(layerc.compile(layerc.from_keras(kmodel)).predict(x),
                        oracle.run_keras(kmodel, [x])[0], "from_keras", 2e-5, 2e-5)
