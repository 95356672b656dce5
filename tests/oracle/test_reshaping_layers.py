"""The reshaping layers that move values against Keras 3. RepeatVector:
hypothesis over feature counts, repeats and batches; the
sequence-to-sequence pattern (an LSTM's last state repeated into a decoder
LSTM); through from_keras. Permute, ZeroPadding1D/2D, Cropping1D/2D and
UpSampling1D/2D (nearest, bilinear, bicubic): hypothesis over shapes, amounts and
data formats, each model also converted by from_keras."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc import ShapeError
from layerc.layers import Input, RepeatVector

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SWEEP = settings(max_examples=10, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@SWEEP
@given(features=st.integers(1, 6), n=st.integers(1, 5), batch=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_repeat_vector_matches_keras(oracle, features, n, batch, seed):
    model = layerc.Sequential([Input((features,)), RepeatVector(n, name="rep")])
    kmodel = oracle.keras.Sequential([oracle.keras.Input((features,)),
                                      oracle.layers.RepeatVector(n, name="rep")])
    x = np.random.default_rng(seed).uniform(-3, 3, (batch, features)).astype(np.float32)
    oracle.check(model, kmodel, x)


def test_sequence_to_sequence_through_from_keras(oracle, rng):
    k = oracle.keras
    kmodel = k.Sequential([k.Input((5, 3)), k.layers.LSTM(4, name="enc"),
                           k.layers.RepeatVector(6, name="rep"),
                           k.layers.LSTM(4, return_sequences=True, name="dec"),
                           k.layers.Dense(3, name="out")])
    for w in kmodel.weights:
        w.assign(rng.uniform(-0.5, 0.5, w.shape).astype(np.float32))
    x = rng.uniform(-1, 1, (3, 5, 3)).astype(np.float32)
    want = oracle.run_keras(kmodel, [x])[0]
    oracle.assert_close(layerc.compile(layerc.from_keras(kmodel)).predict(x), want,
                        "from_keras", 1e-5, 1e-5)


def test_refuses_anything_but_a_feature_vector():
    with pytest.raises(ShapeError, match=r"rep .*expected a \(batch, features\) input"):
        layerc.Sequential([Input((2, 3)), RepeatVector(2, name="rep")])


def twin(oracle, shape, make):
    """The layer `make(module)` in layerc and in Keras, after an Input."""
    model = layerc.Sequential([Input(shape), make(layerc.layers)])
    kmodel = oracle.keras.Sequential([oracle.keras.Input(shape), make(oracle.layers)])
    return model, kmodel


def check_both_ways(oracle, model, kmodel, x, atol=1e-6, rtol=0.0):
    """Against Keras as built in layerc, and as converted from Keras."""
    oracle.check(model, kmodel, x, atol=atol, rtol=rtol)
    oracle.assert_close(layerc.compile(layerc.from_keras(kmodel)).predict(x),
                        oracle.run_keras(kmodel, [x])[0], "from_keras", atol, rtol)


def inputs(seed, shape):
    return np.random.default_rng(seed).uniform(-3, 3, shape).astype(np.float32)


FORMATS = st.sampled_from(["channels_last", "channels_first"])
AMOUNT = st.integers(0, 3)


@SWEEP
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple), data=st.data(),
       batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_permute_matches_keras(oracle, shape, data, batch, seed):
    dims = tuple(data.draw(st.permutations(range(1, len(shape) + 1))))
    model, kmodel = twin(oracle, shape, lambda m: m.Permute(dims, name="p"))
    check_both_ways(oracle, model, kmodel, inputs(seed, (batch, *shape)))


@SWEEP
@given(steps=st.integers(1, 5), channels=st.integers(1, 3), pad=st.tuples(AMOUNT, AMOUNT),
       crop=st.tuples(AMOUNT, AMOUNT), size=st.integers(1, 3), fmt=FORMATS,
       batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_1d_padding_cropping_upsampling_match_keras(oracle, steps, channels, pad, crop, size,
                                                     fmt, batch, seed):
    shape = (channels, steps) if fmt == "channels_first" else (steps, channels)
    x = inputs(seed, (batch, *shape))
    model, kmodel = twin(oracle, shape, lambda m: m.ZeroPadding1D(pad, data_format=fmt,
                                                                  name="z"))
    check_both_ways(oracle, model, kmodel, x)
    up_shape = (steps, channels)
    model, kmodel = twin(oracle, up_shape, lambda m: m.UpSampling1D(size, name="u"))
    check_both_ways(oracle, model, kmodel, inputs(seed, (batch, *up_shape)))
    if sum(crop) < steps:
        model, kmodel = twin(oracle, up_shape, lambda m: m.Cropping1D(crop, name="c"))
        check_both_ways(oracle, model, kmodel, inputs(seed, (batch, *up_shape)))


@SWEEP
@given(h=st.integers(1, 5), w=st.integers(1, 5), channels=st.integers(1, 3),
       pad=st.tuples(st.tuples(AMOUNT, AMOUNT), st.tuples(AMOUNT, AMOUNT)),
       crop=st.tuples(st.tuples(AMOUNT, AMOUNT), st.tuples(AMOUNT, AMOUNT)),
       fmt=FORMATS, batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_2d_padding_and_cropping_match_keras(oracle, h, w, channels, pad, crop, fmt, batch,
                                             seed):
    shape = (channels, h, w) if fmt == "channels_first" else (h, w, channels)
    x = inputs(seed, (batch, *shape))
    model, kmodel = twin(oracle, shape, lambda m: m.ZeroPadding2D(pad, data_format=fmt,
                                                                  name="z"))
    check_both_ways(oracle, model, kmodel, x)
    if sum(crop[0]) < h and sum(crop[1]) < w:
        model, kmodel = twin(oracle, shape, lambda m: m.Cropping2D(crop, data_format=fmt,
                                                                   name="c"))
        check_both_ways(oracle, model, kmodel, x)


@SWEEP
@given(h=st.integers(1, 5), w=st.integers(1, 5), channels=st.integers(1, 3),
       size=st.tuples(st.integers(1, 3), st.integers(1, 3)), fmt=FORMATS,
       interpolation=st.sampled_from(["nearest", "bilinear", "bicubic"]), batch=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_upsampling_2d_matches_keras(oracle, h, w, channels, size, fmt, interpolation, batch,
                                     seed):
    shape = (channels, h, w) if fmt == "channels_first" else (h, w, channels)
    model, kmodel = twin(oracle, shape, lambda m: m.UpSampling2D(
        size, data_format=fmt, interpolation=interpolation, name="u"))
    check_both_ways(oracle, model, kmodel, inputs(seed, (batch, *shape)), atol=1e-5,
                    rtol=1e-6)


@pytest.mark.parametrize("make, error, message", [
    (lambda: layerc.layers.Permute((1, 1)), layerc.ConfigError, "dims must be a permutation"),
    (lambda: layerc.layers.ZeroPadding2D(-1), layerc.ConfigError,
     "padding must be a non-negative int or a pair of them, got -1"),
    (lambda: layerc.layers.UpSampling2D(interpolation="lanczos3"), layerc.ConfigError,
     "interpolation 'lanczos3' is not supported"),
])
def test_bad_options_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("layer, message", [
    (lambda: layerc.layers.Cropping1D((2, 2), name="c"), r"c .*cropping 2 \+ 2 values from "
                                                          r"axis 1 of size 4 leaves nothing"),
    (lambda: layerc.layers.Permute((2, 1, 3), name="p"), r"p .*does not permute the 2 sample"),
    (lambda: layerc.layers.ZeroPadding2D(1, name="z"), r"z .*expected a rank-4 input"),
])
def test_shape_errors_name_the_layer(layer, message):
    with pytest.raises(ShapeError, match=message):
        layerc.Sequential([Input((4, 3)), layer()])
