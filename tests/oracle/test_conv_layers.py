"""Conv1D / Conv2D (and the Keras 1 names Convolution1D / Convolution2D) against
Keras 3: hypothesis sweeps over input sizes, kernel sizes, strides, dilation
rates, paddings (valid, same, causal for 1-D), both data formats, bias and
activation; TF-style asymmetric 'same' padding with even kernels and strides;
the refusals (strides and dilation both > 1, a kernel larger than the input);
the document's Keras 1 example under a channels_first image data format; and a
Conv2D -> MaxPooling2D -> Flatten -> Dense stack in both data formats.

Each case checks both the reference interpreter and the compiled model against
Keras (the `oracle` fixture in conftest.py)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as example_seed
from hypothesis import strategies as st

import layerc
import layerc.config
import layerc.ir
from layerc.layers import (Conv1D, Conv2D, Convolution1D, Convolution2D, Dense, Flatten,
                           MaxPooling2D)

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    # the sweeps include softmax over a size-1 last axis (all ones) on purpose
    pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1:UserWarning"),
]

SWEEP = settings(max_examples=10, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

ATOL = RTOL = 1e-5
FORMATS = ["channels_last", "channels_first"]
# softmax works on the last axis of the layer's output, whatever the data format
# (Keras applies `activation(outputs)` to the output tensor as laid out).
ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "elu", "softmax"]


def data(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return rng.uniform(-scale, scale, shape).astype(np.float32)


def image_shape(spatial: tuple[int, ...], channels: int, data_format: str) -> tuple[int, ...]:
    return (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)


def build_pair(oracle, shape: tuple[int, ...], fn):
    """`fn(ns, x)` builds the same graph from layerc's or Keras's namespace."""
    x = layerc.Input(shape)
    model = layerc.Model(x, fn(layerc, x))
    kx = oracle.keras.Input(shape)
    kmodel = oracle.keras.Model(kx, fn(oracle.keras, kx))
    return model, kmodel


def check_conv(oracle, rng, *, rank, spatial, channels, filters, kernel, strides, dilation,
               padding, data_format, use_bias, activation, batch, expect_out=None):
    shape = image_shape(spatial, channels, data_format)
    kwargs = dict(kernel_size=kernel, strides=strides, padding=padding,
                  dilation_rate=dilation, data_format=data_format, use_bias=use_bias,
                  activation=activation, name="conv")
    cls = "Conv1D" if rank == 1 else "Conv2D"
    model, kmodel = build_pair(oracle, shape,
                               lambda ns, x: getattr(ns.layers, cls)(filters, **kwargs)(x))
    if expect_out is not None:
        assert model.output_shape == (None, *image_shape(expect_out, filters, data_format))
    assert model.output_shape == tuple(kmodel.output_shape), (
        f"output shape {model.output_shape} != Keras {tuple(kmodel.output_shape)}")
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, data(rng, (batch, *shape), 2.0), atol=ATOL, rtol=RTOL)


def tf_same_out(n: int, s: int) -> int:
    return -(-n // s)


# ----- hypothesis sweeps -----
@st.composite
def window_config(draw, rank: int, padding: str):
    """Kernel, strides, dilation (never both > 1) and input sizes (1..12) that fit."""
    kernel = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    if draw(st.booleans()):
        strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
        dilation = (1,) * rank
    else:
        strides = (1,) * rank
        # a dilated span of at most 12, so a 'valid' window fits some input size
        dilation = tuple(draw(st.integers(1, min(3, 11 // max(k - 1, 1)))) for k in kernel)
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    # 'valid' needs the (dilated) window to fit; 'same' and 'causal' pad instead,
    # so there the kernel may be larger than the input.
    spatial = tuple(draw(st.integers(span if padding == "valid" else 1, 12)) for span in spans)
    return dict(kernel=kernel, strides=strides, dilation=dilation, padding=padding,
                spatial=spatial)


COMMON = dict(channels=st.integers(1, 4), filters=st.integers(1, 5), use_bias=st.booleans(),
              activation=st.sampled_from(ACTIVATIONS), batch=st.integers(1, 3),
              seed=st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank,padding", [(1, "valid"), (1, "same"), (1, "causal"),
                                          (2, "valid"), (2, "same")])
def test_conv_sweep(oracle, rank, padding, data_format):
    """Conv1D (valid, same, causal) and Conv2D (valid, same), both data formats."""
    @SWEEP
    # each case draws its own examples (a derandomized sweep would repeat them)
    @example_seed(zlib.crc32(f"conv{rank}-{padding}-{data_format}".encode()))
    @given(cfg=window_config(rank, padding), **COMMON)
    def sweep(cfg, channels, filters, use_bias, activation, batch, seed):
        check_conv(oracle, np.random.default_rng(seed), rank=rank, channels=channels,
                   filters=filters, data_format=data_format, use_bias=use_bias,
                   activation=activation, batch=batch, **cfg)

    sweep()


# ----- padding arithmetic, chosen cases -----
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("size,kernel,stride", [
    (6, 2, 2),   # total pad 0
    (7, 2, 2),   # total pad 1: (0, 1)
    (5, 4, 2),   # total pad 3: (1, 2)
    (8, 4, 3),   # total pad 3: (1, 2)
    (6, 4, 1),   # total pad 3: (1, 2), stride 1
    (3, 6, 2),   # kernel larger than the input, total pad 5: (2, 3)
    (1, 2, 1),   # one position, pad (0, 1)
])
def test_conv_same_padding_is_asymmetric_like_tf(oracle, rng, data_format, size, kernel,
                                                 stride):
    """'same' with even kernels and strides pads the odd cell at the end."""
    for rank in (1, 2):
        spatial = (size,) * rank if rank == 1 else (size, size + 1)
        check_conv(oracle, rng, rank=rank, spatial=spatial, channels=3, filters=4,
                   kernel=(kernel,) * rank, strides=(stride,) * rank, dilation=(1,) * rank,
                   padding="same", data_format=data_format, use_bias=True,
                   activation="linear", batch=2,
                   expect_out=tuple(tf_same_out(n, stride) for n in spatial))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("size,kernel,stride,dilation", [
    (7, 3, 1, 1), (7, 3, 2, 1), (7, 2, 3, 1), (7, 3, 1, 2), (4, 3, 1, 3), (1, 4, 1, 1),
    (2, 5, 3, 1),
])
def test_conv1d_causal_pads_dilated_span_on_the_left(oracle, rng, data_format, size, kernel,
                                                     stride, dilation):
    span = (kernel - 1) * dilation + 1
    check_conv(oracle, rng, rank=1, spatial=(size,), channels=2, filters=3, kernel=(kernel,),
               strides=(stride,), dilation=(dilation,), padding="causal",
               data_format=data_format, use_bias=True, activation="linear", batch=2,
               expect_out=((size + span - 1 - span) // stride + 1,))


def test_conv1d_causal_output_ignores_the_future(rng):
    """output[t] depends on input[:t+1] only (reference and compiled)."""
    x = layerc.Input((9, 2))
    model = layerc.Model(x, Conv1D(3, 3, padding="causal", dilation_rate=2, name="c")(x))
    compiled = layerc.compile(model)
    xs = data(rng, (1, 9, 2))
    changed = xs.copy()
    changed[:, 5:] += 1.0
    for what, run in [("interpret", lambda a: layerc.ir.interpret(model.to_graph(), [a])[0]),
                      ("compiled", compiled.predict)]:
        a, b = np.asarray(run(xs.copy())), np.asarray(run(changed.copy()))
        np.testing.assert_array_equal(a[:, :5], b[:, :5], err_msg=what)
        assert np.abs(a[:, 5:] - b[:, 5:]).max() > 1e-3, what


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [1, 2])
def test_pointwise_conv(oracle, rng, data_format, rank):
    """1x1 kernels, stride 1, valid (the GEMM path), and 1x1 with stride 2."""
    for strides in (1, 2):
        check_conv(oracle, rng, rank=rank, spatial=(5,) * rank, channels=6, filters=7,
                   kernel=(1,) * rank, strides=(strides,) * rank, dilation=(1,) * rank,
                   padding="valid", data_format=data_format, use_bias=True,
                   activation="relu", batch=3, expect_out=(-(-5 // strides),) * rank)


@pytest.mark.parametrize("data_format", FORMATS)
def test_conv_large_values_and_batches(oracle, rng, data_format):
    """More channels, larger magnitudes (outputs in the tens: rtol matters), batch 1
    and 9. (Much larger inputs would measure Keras's float32 cancellation error.)"""
    shape = image_shape((10, 9), 16, data_format)
    model, kmodel = build_pair(oracle, shape, lambda ns, x: ns.layers.Conv2D(
        24, (3, 4), strides=(1, 2), padding="same", data_format=data_format, name="conv")(x))
    oracle.randomize(model, rng)
    oracle.copy_weights(model, kmodel)
    for batch in (1, 9):
        oracle.check(model, kmodel, data(rng, (batch, *shape), 4.0), copy=False,
                     atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("spelling", ["activation_arg", "activation_layer"])
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [1, 2])
def test_softmax_on_conv_uses_the_last_output_axis(oracle, rng, data_format, rank, spelling):
    """softmax after a conv normalizes the output's last axis, as Keras's
    `activation(outputs)` does: for channels_first that is a spatial axis, not
    the filters. fuse-activation folds it into the conv's epilogue, so the
    reference rule of the fused conv (interpreting the optimized graph) must
    agree as well."""
    shape = image_shape((5,) * rank, 3, data_format)
    cls = "Conv1D" if rank == 1 else "Conv2D"

    def fn(ns, x):
        act = "softmax" if spelling == "activation_arg" else None
        y = getattr(ns.layers, cls)(4, 3, padding="same", data_format=data_format,
                                    activation=act, name="conv")(x)
        return y if act else ns.layers.Activation("softmax", name="act")(y)

    model, kmodel = build_pair(oracle, shape, fn)
    oracle.randomize(model, rng)
    xs = data(rng, (2, *shape), 2.0)
    out = oracle.check(model, kmodel, xs, atol=ATOL, rtol=RTOL)
    optimized = layerc.compile(model).graph
    fused = [n.attrs.activation for n in optimized.nodes() if n.op.value == "conv"]
    assert fused == ["softmax"], f"expected softmax fused into the conv, got {fused}"
    oracle.assert_close(layerc.ir.interpret(optimized, [xs.copy()])[0], out.keras[0],
                        "interpret(optimized graph) output 0", ATOL, RTOL)


# ----- refusals -----
@pytest.mark.parametrize("make", [
    lambda: Conv1D(4, 3, strides=2, dilation_rate=2, name="refused"),
    lambda: Conv2D(4, 3, strides=2, dilation_rate=2, name="refused"),
    lambda: Conv2D(4, 3, strides=(1, 2), dilation_rate=(2, 1), name="refused"),
    lambda: Conv2D(4, (3, 3), strides=(2, 2), dilation_rate=(1, 3), name="refused"),
    lambda: Convolution1D(4, 3, subsample_length=2, dilation_rate=2, name="refused"),
    lambda: Convolution2D(4, 3, 3, subsample=(2, 2), dilation_rate=(2, 2), name="refused"),
], ids=["conv1d", "conv2d", "conv2d_crossed_axes", "conv2d_one_axis", "convolution1d",
        "convolution2d"])
def test_strides_and_dilation_both_above_one_is_config_error(make):
    with pytest.raises(layerc.ConfigError, match=r"refused.*strides.*dilation"):
        make()


def test_strides_or_dilation_alone_is_accepted():
    Conv2D(4, 3, strides=(2, 1), dilation_rate=1)
    Conv2D(4, 3, strides=1, dilation_rate=(1, 3))
    Conv1D(4, 3, padding="causal", dilation_rate=4)


@pytest.mark.parametrize("rank,spatial,data_format,kwargs", [
    (1, (2,), "channels_last", dict(kernel_size=3)),
    (1, (4,), "channels_first", dict(kernel_size=3, dilation_rate=2)),  # span 5 > 4
    (1, (5,), "channels_last", dict(kernel_size=6, strides=2, use_bias=False)),
    (2, (5, 5), "channels_first", dict(kernel_size=(6, 1))),
    (2, (5, 5), "channels_last", dict(kernel_size=(1, 6), use_bias=False)),
    (2, (4, 6), "channels_first", dict(kernel_size=3, dilation_rate=(1, 3))),  # span 7 > 6
], ids=["1d", "1d_dilated", "1d_strided_no_bias", "2d_rows", "2d_cols_no_bias",
        "2d_dilated"])
def test_kernel_larger_than_input_is_shape_error_naming_the_layer(rank, spatial, data_format,
                                                                  kwargs):
    """'valid' with a (dilated) kernel larger than the input: layerc refuses it
    with a ShapeError that names the layer (whatever Keras does)."""
    cls = Conv1D if rank == 1 else Conv2D
    x = layerc.Input(image_shape(spatial, 2, data_format))
    layer = cls(3, padding="valid", data_format=data_format, name="too_big_conv", **kwargs)
    with pytest.raises(layerc.ShapeError, match=r"too_big_conv.*larger than the input"):
        layer(x)


@pytest.mark.parametrize("rank", [1, 2])
def test_wrong_input_rank_is_shape_error_naming_the_layer(rank):
    cls = Conv1D if rank == 1 else Conv2D
    x = layerc.Input((5,) * (rank + 2))  # one spatial axis too many
    with pytest.raises(layerc.ShapeError, match="wrong_rank_conv"):
        cls(3, 2, name="wrong_rank_conv")(x)


# ----- Keras 1 spellings -----
@pytest.fixture
def channels_first_default():
    """The image data format set to channels_first, as the document's Keras 1
    examples assume ("th" in ~/.keras/keras.json); restored afterwards."""
    before = layerc.config.image_data_format()
    layerc.config.set_image_data_format("channels_first")
    try:
        yield
    finally:
        layerc.config.set_image_data_format(before)


def test_spec_example_2_convolution2d_then_flatten(oracle, rng, channels_first_default):
    conv = Convolution2D(64, 3, 3, border_mode="same", input_shape=(3, 32, 32), name="conv")
    flat = Flatten(name="flat")
    model = layerc.Sequential()
    model.add(conv)
    model.add(flat)
    assert conv.data_format == "channels_first"
    assert conv.output_shape == (None, 64, 32, 32)
    assert flat.output_shape == (None, 65536)
    assert model.output_shape == (None, 65536)
    assert [w.shape for w in conv.get_weights()] == [(3, 3, 3, 64), (64,)]
    assert conv.count_params() == 3 * 3 * 3 * 64 + 64
    oracle.randomize(model, rng, scale=0.3)
    k = oracle.layers
    kmodel = oracle.keras.Sequential([
        oracle.keras.Input((3, 32, 32)),
        k.Conv2D(64, 3, padding="same", data_format="channels_first", name="conv"),
        k.Flatten(data_format="channels_first", name="flat")])
    assert tuple(kmodel.output_shape) == (None, 65536)
    oracle.check(model, kmodel, data(rng, (2, 3, 32, 32)), atol=ATOL, rtol=RTOL)


def test_keras1_convolution2d_defaults_follow_the_global_format(channels_first_default):
    conv = Convolution2D(8, 2, 3, subsample=(2, 1), border_mode="valid")
    assert (conv.filters, conv.kernel_size, conv.strides, conv.padding, conv.data_format) == (
        8, (2, 3), (2, 1), "valid", "channels_first")
    y = conv(layerc.Input((3, 9, 9)))
    assert y.shape == (None, 8, 4, 7)


@pytest.mark.parametrize("dim_ordering,data_format", [("th", "channels_first"),
                                                     ("tf", "channels_last")])
def test_keras1_convolution2d_subsample_and_dim_ordering(oracle, rng, dim_ordering,
                                                         data_format):
    shape = image_shape((9, 8), 3, data_format)
    x = layerc.Input(shape)
    conv = Convolution2D(5, 2, 3, subsample=(2, 1), border_mode="same",
                         dim_ordering=dim_ordering, activation="relu", name="conv")
    model = layerc.Model(x, conv(x))
    assert conv.data_format == data_format
    kx = oracle.keras.Input(shape)
    kmodel = oracle.keras.Model(kx, oracle.layers.Conv2D(
        5, (2, 3), strides=(2, 1), padding="same", data_format=data_format,
        activation="relu", name="conv")(kx))
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, data(rng, (2, *shape), 2.0), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("border_mode", ["valid", "same", "causal"])
@pytest.mark.parametrize("spelling", ["positional", "keywords"])
def test_keras1_convolution1d(oracle, rng, border_mode, spelling):
    """Convolution1D(nb_filter, filter_length, border_mode=...) = Conv1D."""
    x = layerc.Input((11, 4))
    if spelling == "positional":
        conv = Convolution1D(6, 3, border_mode=border_mode, name="conv")
    else:
        conv = Convolution1D(nb_filter=6, filter_length=3, border_mode=border_mode,
                             subsample_length=1, name="conv")
    model = layerc.Model(x, conv(x))
    assert (conv.filters, conv.kernel_size, conv.padding) == (6, (3,), border_mode)
    assert model.output_shape == (None, 9 if border_mode == "valid" else 11, 6)
    kx = oracle.keras.Input((11, 4))
    kmodel = oracle.keras.Model(kx, oracle.layers.Conv1D(6, 3, padding=border_mode,
                                                         name="conv")(kx))
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, data(rng, (3, 11, 4), 2.0), atol=ATOL, rtol=RTOL)


# ----- a mixed stack -----
@pytest.mark.parametrize("flatten_format", FORMATS, ids=lambda f: f"flatten_{f}")
@pytest.mark.parametrize("data_format", FORMATS, ids=lambda f: f"conv_{f}")
def test_conv_pool_flatten_dense_stack(oracle, rng, data_format, flatten_format):
    """Conv2D -> MaxPooling2D -> Flatten -> Dense. Flatten transposes by its own
    data_format: channels_first moves the channels last before flattening."""
    shape = image_shape((9, 10), 3, data_format)

    def fn(ns, x):
        y = ns.layers.Conv2D(6, 3, padding="same", activation="relu",
                             data_format=data_format, name="conv")(x)
        y = ns.layers.MaxPooling2D(2, data_format=data_format, name="pool")(y)
        y = ns.layers.Flatten(data_format=flatten_format, name="flat")(y)
        return ns.layers.Dense(5, activation="tanh", name="dense")(y)

    model, kmodel = build_pair(oracle, shape, fn)
    assert model.get_layer("flat").output_shape == (None, 4 * 5 * 6)
    assert model.output_shape == (None, 5)
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, data(rng, (3, *shape), 2.0), atol=ATOL, rtol=RTOL)


def test_flatten_order_matters_in_the_stack(oracle, rng):
    """The stack test can fail: a channels_first Flatten is not a plain reshape."""
    shape = (3, 6, 6)
    x = layerc.Input(shape)
    y = Conv2D(4, 3, data_format="channels_first", name="conv")(x)
    y = MaxPooling2D(2, data_format="channels_first", name="pool")(y)
    y = Dense(3, name="dense")(Flatten(data_format="channels_first", name="flat")(y))
    model = layerc.Model(x, y)
    k = oracle.layers
    kx = oracle.keras.Input(shape)
    ky = k.Conv2D(4, 3, data_format="channels_first", name="conv")(kx)
    ky = k.MaxPooling2D(2, data_format="channels_first", name="pool")(ky)
    ky = k.Dense(3, name="dense")(k.Flatten(data_format="channels_last", name="flat")(ky))
    kmodel = oracle.keras.Model(kx, ky)
    oracle.randomize(model, rng)
    with pytest.raises(AssertionError, match="differ from Keras"):
        oracle.check(model, kmodel, data(rng, (2, *shape), 2.0))


@pytest.mark.parametrize("padding, spatial, channels, filters, activation", [
    ("same", (7, 6), 32, 32, "relu"),     # an odd map: the last tiles half outside
    ("valid", (8, 9), 33, 40, "tanh"),    # channels and filters past whole vectors
    ("same", (5, 5), 48, 32, "linear"),
])
def test_winograd_conv_matches_keras(oracle, rng, padding, spatial, channels, filters,
                                     activation):
    """3x3 stride-1 layers with 32+ channels take the CPU's Winograd kernel
    (specialize-padding's `winograd` variant); the numbers stay Keras's."""
    shape = (*spatial, channels)
    model, kmodel = build_pair(oracle, shape, lambda ns, x: ns.layers.Conv2D(
        filters, 3, padding=padding, activation=activation, name="conv")(x))
    assert layerc.compile(model).graph.node("conv").attrs.variant == "winograd"
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, data(rng, (3, *shape), 2.0), atol=ATOL, rtol=RTOL)
