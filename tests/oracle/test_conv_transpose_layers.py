"""Conv1DTranspose / Conv2DTranspose against Keras 3: hypothesis sweeps over
input sizes, kernels, strides, dilations, paddings, output_padding (None or
below the strides), both data formats, bias and activation, through the
reference interpreter, the compiled model and from_keras; the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import layerc
from layerc.errors import ConfigError

pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:You might experience inconsistencies")]

SWEEP = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
ATOL = RTOL = 1e-5


@st.composite
def configs(draw):
    rank = draw(st.sampled_from([1, 2]))
    data_format = draw(st.sampled_from(["channels_last", "channels_first"]))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    strided = draw(st.booleans())
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank)) if strided else (1,) * rank
    dilation = (1,) * rank if strided else tuple(draw(st.integers(1, 2)) for _ in range(rank))
    output_padding = None
    if draw(st.booleans()):
        output_padding = tuple(draw(st.integers(0, s - 1)) for s in strides)
    spatial = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    channels = draw(st.integers(1, 3))
    options = dict(filters=draw(st.integers(1, 4)), kernel_size=kernel, strides=strides,
                   dilation_rate=dilation, padding=draw(st.sampled_from(["valid", "same"])),
                   output_padding=output_padding, data_format=data_format, name="deconv",
                   use_bias=draw(st.booleans()),
                   activation=draw(st.sampled_from([None, "relu", "sigmoid"])))
    shape = (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)
    return f"Conv{rank}DTranspose", options, shape


@SWEEP
@given(cfg=configs(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_transposed_convolutions_match_keras(oracle, cfg, batch, seed):
    cls, options, shape = cfg
    kx = oracle.keras.Input(shape)
    kmodel = oracle.keras.Model(kx, getattr(oracle.keras.layers, cls)(**options)(kx))
    assume(0 not in kmodel.output_shape)  # Keras's output_padding can leave nothing
    x = layerc.Input(shape)
    model = layerc.Model(x, getattr(layerc.layers, cls)(**options)(x))
    assert model.output_shape == tuple(kmodel.output_shape)
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng)
    xs = rng.uniform(-2, 2, (batch, *shape)).astype(np.float32)
    oracle.check(model, kmodel, xs, atol=ATOL, rtol=RTOL)
    converted = layerc.compile(layerc.from_keras(kmodel)).predict(xs)
    oracle.assert_close(converted, oracle.run_keras(kmodel, [xs])[0], "from_keras", ATOL, RTOL)


def test_a_dcgan_style_generator_matches_keras(oracle):
    """Dense -> Reshape -> Conv2DTranspose(strides 2, same) x2 with
    BatchNormalization and LeakyReLU between, as keras-io's DCGAN builds it."""
    def fn(ns, x):
        h = ns.layers.Reshape((4, 4, 8))(ns.layers.Dense(128, name="d")(x))
        h = ns.layers.Conv2DTranspose(8, 4, strides=2, padding="same", name="t1")(h)
        h = ns.layers.LeakyReLU(0.2)(ns.layers.BatchNormalization(name="bn")(h))
        return ns.layers.Conv2DTranspose(1, 5, strides=2, padding="same",
                                         activation="sigmoid", name="t2")(h)

    x = layerc.Input((16,))
    model = layerc.Model(x, fn(layerc, x))
    kx = oracle.keras.Input((16,))
    kmodel = oracle.keras.Model(kx, fn(oracle.keras, kx))
    rng = np.random.default_rng(0)
    oracle.randomize(model, rng)
    bn = model.get_layer("bn")  # a variance > 0, else both sides give NaN
    bn.set_weights([*bn.get_weights()[:3], rng.uniform(0.5, 2.0, (8,)).astype(np.float32)])
    out = oracle.check(model, kmodel, rng.normal(size=(3, 16)).astype(np.float32), atol=ATOL,
                       rtol=RTOL)
    assert out.keras[0].shape == (3, 16, 16, 1) and np.isfinite(out.keras[0]).all()


def test_refusals():
    with pytest.raises(ConfigError, match="output_padding .* must be below the strides"):
        layerc.layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ConfigError, match="together with dilation_rate"):
        layerc.layers.Conv1DTranspose(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ConfigError, match="padding"):
        layerc.layers.Conv1DTranspose(2, 3, padding="causal")
