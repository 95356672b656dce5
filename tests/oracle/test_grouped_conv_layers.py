"""Grouped convolutions against Keras 3: Conv1D/Conv2D with `groups`,
DepthwiseConv1D/2D (depth_multiplier) and SeparableConv1D/2D, hypothesis
sweeps over sizes, kernels, strides, dilations, paddings, both data formats,
bias and activation; from_keras of each; fold-batchnorm into a depthwise
convolution; the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SWEEP = settings(max_examples=12, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
ATOL = RTOL = 1e-5
KINDS = ["Conv", "DepthwiseConv", "SeparableConv"]


def build_pair(oracle, shape, fn):
    x = layerc.Input(shape)
    model = layerc.Model(x, fn(layerc, x))
    kx = oracle.keras.Input(shape)
    return model, oracle.keras.Model(kx, fn(oracle.keras, kx))


@st.composite
def configs(draw):
    kind = draw(st.sampled_from(KINDS))
    rank = draw(st.sampled_from([1, 2]))
    data_format = draw(st.sampled_from(["channels_last", "channels_first"]))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    strided = draw(st.booleans())
    strides = tuple(draw(st.integers(1, 2)) for _ in range(rank)) if strided else (1,) * rank
    dilation = (1,) * rank if strided else tuple(draw(st.integers(1, 2)) for _ in range(rank))
    padding = draw(st.sampled_from(["valid", "same"]))
    spatial = tuple(draw(st.integers((k - 1) * d + 1, 7)) for k, d in zip(kernel, dilation))
    groups = draw(st.integers(1, 3))
    channels = groups * draw(st.integers(1, 2)) if kind == "Conv" else draw(st.integers(1, 4))
    options = dict(kernel_size=kernel, strides=strides, dilation_rate=dilation,
                   padding=padding, data_format=data_format, name="conv",
                   use_bias=draw(st.booleans()),
                   activation=draw(st.sampled_from([None, "relu", "tanh"])))
    if kind == "Conv":
        options.update(filters=groups * draw(st.integers(1, 3)), groups=groups)
    else:
        options["depth_multiplier"] = draw(st.integers(1, 3))
    if kind == "SeparableConv":
        options["filters"] = draw(st.integers(1, 4))
    shape = (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)
    return f"{kind}{rank}D", options, shape


@SWEEP
@given(cfg=configs(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_grouped_convolutions_match_keras(oracle, cfg, batch, seed):
    cls, options, shape = cfg
    if options["data_format"] == "channels_first" and cls.startswith("DepthwiseConv1D"):
        options["data_format"] = "channels_last"  # Keras's torch backend: channels last only
        shape = (*shape[1:], shape[0])
    model, kmodel = build_pair(oracle, shape, lambda ns, x: getattr(ns.layers, cls)(**options)(x))
    assert model.output_shape == tuple(kmodel.output_shape)
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng)
    x = rng.uniform(-2, 2, (batch, *shape)).astype(np.float32)
    oracle.check(model, kmodel, x, atol=ATOL, rtol=RTOL)
    converted = layerc.from_keras(kmodel)
    oracle.assert_close(layerc.compile(converted).predict(x), oracle.run_keras(kmodel, [x])[0],
                        "from_keras", ATOL, RTOL)


def test_depthwise_weights_show_keras_shapes_and_fold_batchnorm(oracle):
    """The kernel reads and writes as Keras's (kh, kw, channels, multiplier);
    a BatchNormalization after a depthwise convolution folds into it."""
    keras = oracle.keras

    def fn(ns, x):
        y = ns.layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False, name="dw")(x)
        return ns.layers.ReLU(6.0)(ns.layers.BatchNormalization(name="bn")(y))

    model, kmodel = build_pair(oracle, (6, 6, 3), fn)
    assert [w.shape for w in model.get_layer("dw").get_weights()] == [(3, 3, 3, 2)]
    rng = np.random.default_rng(0)
    oracle.randomize(model, rng)
    bn = model.get_layer("bn")
    bn.set_weights([w if i < 3 else rng.uniform(0.5, 2, w.shape).astype(np.float32)
                    for i, w in enumerate(bn.get_weights())])
    compiled = layerc.compile(model)
    assert [n.op for n in compiled.graph.nodes()] == [OpKind.INPUT, OpKind.CONV]
    assert compiled.graph.node("dw").attrs.groups == 3
    oracle.check(model, kmodel, rng.normal(size=(2, 6, 6, 3)).astype(np.float32),
                 atol=ATOL, rtol=RTOL)
    del keras


@pytest.mark.parametrize("strides,padding,activation", [(1, "same", "relu6"),
                                                        (2, "same", None), (1, "valid", "relu")])
def test_mobilenet_sized_depthwise_layers_match_keras(oracle, strides, padding, activation):
    """Channels past the vector width: the CPU's vectorized depthwise kernel."""
    model, kmodel = build_pair(oracle, (20, 21, 35), lambda ns, x: ns.layers.DepthwiseConv2D(
        3, strides=strides, padding=padding, activation=activation, name="conv")(x))
    oracle.randomize(model, np.random.default_rng(strides))
    x = np.random.default_rng(7).standard_normal((3, 20, 21, 35)).astype(np.float32)
    oracle.check(model, kmodel, x, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("strides,activation", [(1, "relu"), (2, None)])
def test_separable_layers_in_one_cpu_step_match_keras(oracle, strides, activation):
    """Channels past the vector width, the depthwise and pointwise halves in
    one CPU step (codegen/cpu/ops/separable.py)."""
    model, kmodel = build_pair(oracle, (15, 16, 35), lambda ns, x: ns.layers.SeparableConv2D(
        21, 3, strides=strides, padding="same", activation=activation, name="conv")(x))
    oracle.randomize(model, np.random.default_rng(strides))
    x = np.random.default_rng(8).standard_normal((3, 15, 16, 35)).astype(np.float32)
    oracle.check(model, kmodel, x, atol=ATOL, rtol=RTOL)


def test_refusals():
    with pytest.raises(ConfigError, match="filters=5 must be a multiple of groups=2"):
        layerc.layers.Conv2D(5, 3, groups=2)
    with pytest.raises(ShapeError, match=r"groups=2 must divide the input channels \(3\)"):
        layerc.Sequential([layerc.Input((5, 5, 3)), layerc.layers.Conv2D(4, 3, groups=2)])
    with pytest.raises(ConfigError, match="depth_multiplier must be a positive int"):
        layerc.layers.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ConfigError, match="padding"):
        layerc.layers.DepthwiseConv1D(3, padding="causal")
