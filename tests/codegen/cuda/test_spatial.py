"""CUDA lowerings of the window ops against the reference interpreter:
convolution, pooling, global pooling (with masks) and locally connected."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layerc
from layerc.layers import (AveragePooling1D, AveragePooling2D, Conv1D, Conv2D, Dense,
                           Embedding, Flatten, GlobalAveragePooling1D, GlobalAveragePooling2D,
                           GlobalMaxPooling1D, GlobalMaxPooling2D, Input, LocallyConnected1D,
                           LocallyConnected2D, MaxPooling1D, MaxPooling2D, ZeroPadding2D,
                           DepthwiseConv1D, DepthwiseConv2D, SeparableConv2D, Conv1DTranspose,
                           Conv2DTranspose)
from layerc.models import Model, Sequential

FORMATS = ("channels_last", "channels_first")


def feature_map(sizes, channels, data_format):
    if data_format == "channels_last":
        return Input((*sizes, channels))
    return Input((channels, *sizes))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("padding,strides,dilation", [
    ("valid", 1, 1), ("same", 2, 1), ("same", 1, 2), ("causal", 2, 1), ("causal", 1, 2),
    ("valid", 3, 1)])
def test_conv1d(like_reference, data_format, padding, strides, dilation):
    if padding == "causal" and data_format == "channels_first":
        data_format = "channels_last"  # Keras refuses causal channels_first
    model = Sequential([feature_map((7,), 3, data_format),
                        Conv1D(2, 3, strides=strides, padding=padding, dilation_rate=dilation,
                               data_format=data_format, activation="relu")])
    like_reference(model)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("padding,strides,dilation,kernel", [
    ("valid", (1, 1), (1, 1), (3, 2)), ("same", (2, 1), (1, 1), (3, 3)),
    ("same", (1, 1), (2, 1), (2, 3)), ("valid", (2, 3), (1, 1), (1, 1)),
    ("same", (3, 2), (1, 1), (2, 2))])
def test_conv2d(like_reference, data_format, padding, strides, dilation, kernel):
    model = Sequential([feature_map((5, 6), 2, data_format),
                        Conv2D(3, kernel, strides=strides, padding=padding,
                               dilation_rate=dilation, data_format=data_format,
                               activation="tanh", use_bias=strides != (2, 3))])
    like_reference(model, both=padding == "same")


@pytest.mark.parametrize("data_format", FORMATS)
def test_conv_softmax_epilogue_runs_over_the_last_axis(like_reference, data_format):
    model = Sequential([feature_map((3, 4), 2, data_format),
                        Conv2D(3, 2, padding="same", data_format=data_format,
                               activation="softmax")])
    like_reference(model, both=False)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("layer,pool,strides,padding", [
    (MaxPooling1D, 2, None, "valid"), (MaxPooling1D, 3, 2, "same"),
    (AveragePooling1D, 2, 1, "valid"), (AveragePooling1D, 3, 2, "same"),
    (MaxPooling2D, (2, 2), None, "valid"), (MaxPooling2D, (3, 2), (2, 1), "same"),
    (AveragePooling2D, (2, 3), (1, 2), "valid"), (AveragePooling2D, (3, 3), (2, 2), "same")])
def test_pooling(like_reference, data_format, layer, pool, strides, padding):
    sizes = (7,) if layer in (MaxPooling1D, AveragePooling1D) else (5, 4)
    model = Sequential([feature_map(sizes, 2, data_format),
                        layer(pool, strides=strides, padding=padding,
                              data_format=data_format)])
    like_reference(model, both=False)


def test_max_pooling_propagates_nan(like_reference):
    model = Sequential([Input((4, 1)), MaxPooling1D(2), Flatten()])
    x = np.array([[[np.nan], [1.0], [2.0], [3.0]]], np.float32)
    like_reference(model, x)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("layer", [GlobalMaxPooling1D, GlobalAveragePooling1D,
                                   GlobalMaxPooling2D, GlobalAveragePooling2D])
def test_global_pooling(like_reference, data_format, layer):
    sizes = (5,) if layer in (GlobalMaxPooling1D, GlobalAveragePooling1D) else (3, 4)
    model = Sequential([feature_map(sizes, 3, data_format), layer(data_format=data_format)])
    like_reference(model, both=False)


def test_global_average_pooling_with_a_mask(like_reference):
    """Embedding(mask_zero) -> GlobalAveragePooling1D averages unmasked steps;
    the gather kernel writes the mask."""
    ids = Input((6,), dtype="int32")
    model = Model(ids, Dense(2)(GlobalAveragePooling1D()(Embedding(9, 3, mask_zero=True)(ids))))
    x = np.array([[0, 1, 8, 3, 0, 0], [2, 0, 0, 5, 4, 7], [1, 1, 1, 1, 1, 0]], np.float32)
    like_reference(model, x)


@pytest.mark.parametrize("data_format", FORMATS)
def test_locally_connected1d(like_reference, data_format):
    model = Sequential([feature_map((7,), 2, data_format),
                        LocallyConnected1D(3, 3, strides=2, data_format=data_format,
                                           activation="relu")])
    like_reference(model)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("activation", ["sigmoid", "softmax"])
def test_locally_connected2d(like_reference, data_format, activation):
    model = Sequential([feature_map((4, 5), 2, data_format),
                        LocallyConnected2D(2, (2, 3), strides=(1, 2), data_format=data_format,
                                           activation=activation,
                                           use_bias=activation != "sigmoid")])
    like_reference(model, both=activation == "sigmoid")


@settings(deadline=None, max_examples=15)
@given(st.data())
def test_small_conv_sweep(like_reference, data):
    """Random small convolutions: rank, format, padding, strides, dilation,
    kernel, channels, batch."""
    rank = data.draw(st.sampled_from((1, 2)), label="rank")
    padding = data.draw(st.sampled_from(("valid", "same", "causal") if rank == 1
                                        else ("valid", "same")), label="padding")
    data_format = "channels_last" if padding == "causal" else \
        data.draw(st.sampled_from(FORMATS), label="data_format")
    sizes = tuple(data.draw(st.integers(1, 5), label="size") for _ in range(rank))
    dilation = tuple(data.draw(st.integers(1, 2), label="dilation") for _ in range(rank))
    strides = (1,) * rank if max(dilation) > 1 else \
        tuple(data.draw(st.integers(1, 3), label="stride") for _ in range(rank))
    limit = [n if padding == "valid" else 3 for n in sizes]
    kernel = tuple(data.draw(st.integers(1, max(1, (m - 1) // d + 1 if padding == "valid"
                                                 else m)), label="kernel")
                   for m, d in zip(limit, dilation))
    channels = data.draw(st.integers(1, 3), label="channels")
    filters = data.draw(st.integers(1, 3), label="filters")
    layer = (Conv1D if rank == 1 else Conv2D)(
        filters, kernel, strides=strides, padding=padding, dilation_rate=dilation,
        data_format=data_format, activation=data.draw(st.sampled_from(("linear", "relu"))))
    model = Sequential([feature_map(sizes, channels, data_format), layer])
    batch = data.draw(st.integers(1, 2), label="batch")
    x = np.random.default_rng(data.draw(st.integers(0, 99))).uniform(
        -2, 2, (batch, *model.inputs[0].type.sample_shape)).astype(np.float32)
    like_reference(model, x, both=False)


@pytest.mark.parametrize("data_format", FORMATS)
def test_zero_padding_folded_into_a_convolution(like_reference, data_format):
    """fold-padding's explicit pads (asymmetric, on a 'same' convolution too)."""
    model = Sequential([feature_map((5, 6), 2, data_format),
                        ZeroPadding2D(((1, 0), (1, 1)), data_format=data_format),
                        Conv2D(3, 3, padding="same", data_format=data_format)])
    compiled = layerc.compile(model, target="cuda")
    assert [n.op.value for n in compiled.graph.nodes()] == ["input", "conv"]
    like_reference(model)


@pytest.mark.parametrize("data_format", FORMATS)
def test_grouped_depthwise_and_separable_convolutions(like_reference, data_format):
    model = Sequential([feature_map((6, 5), 4, data_format),
                        Conv2D(6, (3, 2), groups=2, padding="same", data_format=data_format),
                        DepthwiseConv2D(3, depth_multiplier=2, strides=(2, 1),
                                        data_format=data_format, activation="relu"),
                        SeparableConv2D(3, 2, data_format=data_format)])
    like_reference(model)
    like_reference(Sequential([Input((7, 3)), DepthwiseConv1D(3, depth_multiplier=2,
                                                              dilation_rate=2)]))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("padding,strides,output_padding", [
    ("valid", (2, 1), None), ("same", (2, 2), None), ("same", (1, 2), (0, 1)),
    ("valid", (3, 1), (1, 0))])
def test_conv_transpose(like_reference, data_format, padding, strides, output_padding):
    model = Sequential([feature_map((4, 3), 2, data_format),
                        Conv2DTranspose(3, (3, 2), strides=strides, padding=padding,
                                        output_padding=output_padding, data_format=data_format,
                                        activation="tanh")])
    like_reference(model)
    like_reference(Sequential([Input((5, 2)), Conv1DTranspose(2, 3, dilation_rate=2,
                                                              padding="same")]))
