"""Conv1DTranspose / Conv2DTranspose / Conv3DTranspose against Keras 3:
hypothesis sweeps over input sizes, kernels, strides, dilations, paddings,
output_padding (None or below the strides), both data formats, bias and
activation, through the reference interpreter, the compiled model and
from_keras (objects and a .keras file); chosen 3-D cases, configs, Keras's
positional order and aliases; the refusals."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import seed as example_seed
from hypothesis import strategies as st

import layerc
import layerc.ir
from layerc.errors import ConfigError, ShapeError
from layerc.layers import Conv3DTranspose, Input

pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:You might experience inconsistencies"),
              pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")]

SWEEP = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
SWEEP_3D = settings(SWEEP, max_examples=15)  # per padding and data format
ATOL = RTOL = 1e-5
FORMATS = ["channels_last", "channels_first"]


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


def keras_model(oracle, cls, options, shape):
    kx = oracle.keras.Input(shape)
    return oracle.keras.Model(kx, getattr(oracle.keras.layers, cls)(**options)(kx))


def check_against_keras(oracle, kmodel, cls, options, shape, batch, seed):
    """The layer built in layerc (weights copied to Keras) and converted from
    Keras by from_keras, against Keras on uniform inputs."""
    x = layerc.Input(shape)
    model = layerc.Model(x, getattr(layerc.layers, cls)(**options)(x))
    assert model.output_shape == tuple(kmodel.output_shape)
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng)
    xs = rng.uniform(-2, 2, (batch, *shape)).astype(np.float32)
    oracle.check(model, kmodel, xs, atol=ATOL, rtol=RTOL)
    converted = layerc.compile(layerc.from_keras(kmodel)).predict(xs)
    oracle.assert_close(converted, oracle.run_keras(kmodel, [xs])[0], "from_keras", ATOL, RTOL)


@SWEEP
@given(cfg=configs(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_transposed_convolutions_match_keras(oracle, cfg, batch, seed):
    kmodel = keras_model(oracle, *cfg)
    assume(0 not in kmodel.output_shape)  # Keras's output_padding can leave nothing
    check_against_keras(oracle, kmodel, *cfg, batch, seed)


@st.composite
def configs_3d(draw, padding: str, data_format: str):
    """Kernel 1-3 per axis, strides 1-3 or dilation 1-2 (never both above 1),
    output_padding None or below the strides, sides 1-4, 1-3 channels."""
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    strides = dilation = (1, 1, 1)
    if draw(st.booleans()):
        strides = tuple(draw(st.integers(1, 3)) for _ in range(3))
    elif draw(st.booleans()):
        dilation = tuple(draw(st.integers(1, 2)) for _ in range(3))
    output_padding = None
    if draw(st.booleans()):
        output_padding = tuple(draw(st.integers(0, s - 1)) for s in strides)
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(3))
    channels = draw(st.integers(1, 3))
    options = dict(filters=draw(st.integers(1, 3)), kernel_size=kernel, strides=strides,
                   dilation_rate=dilation, padding=padding, output_padding=output_padding,
                   data_format=data_format, name="deconv", use_bias=draw(st.booleans()),
                   activation=draw(st.sampled_from([None, "relu", "tanh", "softmax"])))
    shape = (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)
    return options, shape


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv3d_transpose_sweep(oracle, padding, data_format):
    @SWEEP_3D
    @example_seed(zlib.crc32(f"conv3d-transpose-{padding}-{data_format}".encode()))
    @given(cfg=configs_3d(padding, data_format), batch=st.integers(1, 2),
           seed=st.integers(0, 2**32 - 1))
    def sweep(cfg, batch, seed):
        kmodel = keras_model(oracle, "Conv3DTranspose", *cfg)
        assume(0 not in kmodel.output_shape)
        check_against_keras(oracle, kmodel, "Conv3DTranspose", *cfg, batch, seed)

    sweep()


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kernel,strides,dilation,padding,output_padding", [
    ((1, 1, 1), (2, 2, 2), (1, 1, 1), "valid", None),     # gaps of zeros between the taps
    ((3, 3, 3), (1, 1, 1), (1, 1, 1), "same", None),
    ((2, 3, 4), (2, 1, 3), (1, 1, 1), "same", None),      # even kernels: uneven crops
    ((3, 2, 2), (3, 2, 1), (1, 1, 1), "valid", (2, 1, 0)),
    ((2, 2, 3), (2, 3, 2), (1, 1, 1), "same", (1, 2, 0)),
    ((2, 3, 2), (1, 1, 1), (2, 1, 2), "same", None),
    ((4, 2, 2), (1, 1, 1), (1, 1, 1), "valid", None),     # a kernel deeper than the input
], ids=["pointwise_strided", "same3", "even_same", "valid_output_padding",
        "same_output_padding", "dilated", "deep_kernel"])
def test_conv3d_transpose_cases(oracle, rng, data_format, kernel, strides, dilation, padding,
                                output_padding):
    options = dict(filters=3, kernel_size=kernel, strides=strides, dilation_rate=dilation,
                   padding=padding, output_padding=output_padding, data_format=data_format,
                   activation="relu", name="deconv")
    shape = (3, 4, 2, 2) if data_format == "channels_last" else (2, 3, 4, 2)
    kmodel = keras_model(oracle, "Conv3DTranspose", options, shape)
    check_against_keras(oracle, kmodel, "Conv3DTranspose", options, shape, 3,
                        int(rng.integers(2**32)))


@pytest.mark.parametrize("data_format", FORMATS)
def test_a_conv3d_transpose_large_enough_to_split_over_the_threads(oracle, rng, data_format):
    """Above the CPU kernel's SERIAL_VALUES outputs its rows go to the threads."""
    options = dict(filters=6, kernel_size=(3, 2, 3), strides=(2, 2, 1), padding="same",
                   output_padding=(1, 0, 0), data_format=data_format, activation="relu",
                   name="deconv")
    shape = (5, 6, 7, 3) if data_format == "channels_last" else (3, 5, 6, 7)
    kmodel = keras_model(oracle, "Conv3DTranspose", options, shape)
    check_against_keras(oracle, kmodel, "Conv3DTranspose", options, shape, 8,
                        int(rng.integers(2**32)))


def test_a_3d_generator_from_a_keras_file(oracle, rng, tmp_path):
    """Dense -> Reshape -> Conv3DTranspose(strides 2, same) -> BatchNormalization
    -> ReLU -> Convolution3DTranspose (Keras's alias) to one channel, from the
    Keras model and from its .keras file."""
    k = oracle.keras
    x = k.Input((8,))
    h = k.layers.Reshape((2, 2, 2, 4))(k.layers.Dense(32)(x))
    h = k.layers.Conv3DTranspose(4, 3, strides=2, padding="same")(h)
    h = k.layers.ReLU()(k.layers.BatchNormalization()(h))
    y = k.layers.Convolution3DTranspose(1, (2, 3, 3), strides=(1, 2, 2), padding="same",
                                        activation="sigmoid", data_format="channels_first")(h)
    kmodel = k.Model(x, y)
    for layer in kmodel.layers:
        if layer.weights:
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                               if "variance" in w.path else
                               rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
                               for w in layer.weights])
    path = tmp_path / "generator.keras"
    kmodel.save(path)
    xs = rng.normal(size=(2, 8)).astype(np.float32)
    want = oracle.run_keras(kmodel, [xs])[0]
    assert want.shape == (2, 1, 4, 8, 8)
    for source in (kmodel, str(path)):
        model = layerc.from_keras(source)
        oracle.assert_close(layerc.compile(model).predict(xs.copy()), want, "compiled",
                            ATOL, RTOL)
        oracle.assert_close(layerc.ir.interpret(model.to_graph(), [xs.copy()])[0], want,
                            "interpret", ATOL, RTOL)


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


def test_conv3d_transpose_takes_keras_positional_order(oracle):
    """Keras 3.15's Conv3DTranspose takes data_format before output_padding."""
    args = (4, (2, 3, 2), (2, 1, 2), "same", "channels_first", (1, 0, 0))
    config = Conv3DTranspose(*args).get_config()
    kconfig = oracle.layers.Conv3DTranspose(*args).get_config()
    for key in ("filters", "kernel_size", "strides", "padding", "data_format",
                "output_padding", "dilation_rate"):
        assert tuple(np.atleast_1d(config[key])) == tuple(np.atleast_1d(kconfig[key])), key
    assert layerc.layers.Convolution3DTranspose is Conv3DTranspose


@pytest.mark.parametrize("make", [
    lambda: Conv3DTranspose(3, 2),
    lambda: Conv3DTranspose(2, (1, 2, 3), strides=(2, 1, 3), padding="same",
                            output_padding=(1, 0, 2), data_format="channels_first",
                            activation="relu", use_bias=False),
    lambda: Conv3DTranspose(2, 3, dilation_rate=(1, 2, 1), kernel_initializer="ones")])
def test_conv3d_transpose_config_and_weights(make):
    layer = make()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    assert layerc.layers.deserialize(layerc.layers.serialize(layer)).get_config() == config
    shape = (3, 2, 4, 5) if layer.data_format == "channels_first" else (2, 4, 5, 3)
    model = layerc.Sequential([Input(shape), layer])
    kernel = (*layer.kernel_size, layer.filters, 3)
    assert [w.shape for w in layer.get_weights()] == (
        [kernel, (layer.filters,)] if layer.use_bias else [kernel])
    weights = [np.full(w.shape, 0.25, np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), weights))
    assert model.count_params() == sum(w.size for w in weights)


def test_refusals():
    with pytest.raises(ConfigError, match="output_padding .* must be below the strides"):
        layerc.layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ConfigError, match="together with dilation_rate"):
        layerc.layers.Conv1DTranspose(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ConfigError, match="padding"):
        layerc.layers.Conv1DTranspose(2, 3, padding="causal")


@pytest.mark.parametrize("make,message", [
    (lambda: Conv3DTranspose(2, 3, strides=(2, 1, 2), output_padding=(1, 1, 0), name="r"),
     r"r .*output_padding \(1, 1, 0\) must be below the strides"),
    (lambda: Conv3DTranspose(2, 3, strides=2, dilation_rate=2, name="r"),
     r"r .*strides.*together with dilation_rate"),
    (lambda: Conv3DTranspose(2, 3, padding="causal", name="r"), r"r .*padding.*causal"),
    (lambda: Conv3DTranspose(2, (3, 3), name="r"), r"r .*kernel_size.*3 positive"),
    (lambda: Conv3DTranspose(2, 3, output_padding=(0, 0), name="r"),
     r"r .*output_padding must be .* or a tuple of 3"),
], ids=["output_padding", "strides_and_dilation", "causal", "kernel_rank",
        "output_padding_rank"])
def test_conv3d_transpose_refusals_name_the_layer(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_conv3d_transpose_on_a_feature_map_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"wrong_rank.*expected input rank 5"):
        layerc.Sequential([Input((4, 4, 2)), Conv3DTranspose(2, 2, name="wrong_rank")])
