"""CUDA lowerings of the core and merge ops against the reference interpreter."""

import numpy as np
import pytest

import layerc
from layerc.ir.activations import ACTIVATIONS
from layerc.layers import (Activation, Add, Average, Concatenate, Dense, Dropout, Embedding,
                           Flatten, Input, Maximum, Minimum, Multiply, Reshape, Subtract)
from layerc.models import Model, Sequential


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_dense_fuses_every_activation(like_reference, activation):
    model = Sequential([Input((11,)), Dense(10, activation=activation)])
    like_reference(model, both=False)


def test_dense_over_rows_without_bias_and_tiles_of_k(like_reference):
    """Rows per sample > 1 (a 3-D input), k and n beyond one tile, no bias."""
    model = Sequential([Input((3, 19)), Dense(17, use_bias=False), Dense(2, activation="relu")])
    like_reference(model)


@pytest.mark.parametrize("activation", ["relu", "softmax", "log_softmax", "sparsemax", "gelu",
                                        "linear", "glu"])
def test_activation_layer(like_reference, activation):
    """With plan-memory alone the Activation runs as its own kernel."""
    model = Sequential([Input((2, 5)), Dense(6), Activation(activation)])
    like_reference(model)


def test_nan_flows_through_dense_and_activations(like_reference):
    model = Sequential([Input((4,)), Dense(3, activation="relu"), Activation("softmax")])
    x = np.array([[np.nan, 1, 2, 3], [0.5, -1, 2, 0]], np.float32)
    like_reference(model, x)


@pytest.mark.parametrize("merge", [Add, Subtract, Multiply, Average, Maximum, Minimum])
def test_elementwise_merges(like_reference, merge):
    a, b = Input((3, 2)), Input((3, 2))
    inputs = [a, b]
    parts = [Dense(2)(a), b]
    if merge is not Subtract:  # three-way merges chain binary kernels
        c = Input((3, 2))
        inputs.append(c)
        parts.append(c)
    model = Model(inputs, merge()(parts))
    like_reference(model)


def test_maximum_and_minimum_propagate_nan(like_reference):
    a, b = Input((4,)), Input((4,))
    model = Model([a, b], [Maximum()([a, b]), Minimum()([a, b])])
    x = np.array([[np.nan, 1, 2, 3]], np.float32)
    y = np.array([[0, np.nan, 5, -1]], np.float32)
    like_reference(model, [x, y])


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_concatenate(like_reference, axis):
    a, b = Input((2, 3)), Input((2, 3))
    model = Model([a, b], Concatenate(axis=axis)([Dense(3)(a), b]))
    like_reference(model)


def test_views_reshape_flatten_and_dropout(like_reference):
    """Fold-reshape turns these into zero-copy views; plan-memory alone runs
    them as copies."""
    model = Sequential([Input((2, 6)), Reshape((3, 4)), Dropout(0.5), Dense(5), Flatten(),
                        Reshape((5, 3)), Dense(2), Flatten()])
    like_reference(model)


def test_flatten_channels_first_transposes(like_reference):
    model = Sequential([Input((3, 2, 2)), Flatten(data_format="channels_first"), Dense(4)])
    like_reference(model)


def test_embedding_with_mask_zero(like_reference):
    ids = Input((5,), dtype="int32")
    emb = Embedding(7, 3, mask_zero=True)
    out = emb(ids)
    model = Model(ids, Dense(2)(out))
    x = np.array([[0, 1, 6, 3, 0], [2, 0, 0, 5, 4]], np.float32)
    like_reference(model, x)
    graph = model.to_graph()
    compiled = layerc.compile(graph, target="cuda", passes=None)
    assert "gather" in compiled.program.text


def test_masking_into_a_recurrent_layer(like_reference):
    x = np.random.default_rng(0).uniform(-1, 1, (2, 4, 3)).astype(np.float32)
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    like_reference(Sequential([Input((4, 3)), layerc.layers.Masking(), layerc.layers.GRU(2)]),
                   x)


def test_dot(like_reference):
    a, b = Input((3, 2)), Input((4, 2))
    like_reference(Model([a, b], layerc.layers.Dot(axes=(2, 2), normalize=True)([a, b])))


@pytest.mark.parametrize("merge", [Maximum, Multiply])
def test_merges_of_masked_inputs(like_reference, merge):
    """Keras's masked Maximum/Multiply (the masked_binary kernel, both mask
    arrangements and Multiply's zeroed steps) and the OR of the masks."""
    ids = Input((5,), dtype="int32")
    masked = Embedding(7, 3, mask_zero=True)(ids)
    other = Embedding(7, 3, mask_zero=True)(ids)  # a second mask (the OR makes a node)
    plain = Embedding(7, 3)(ids)
    merged = merge()([masked, Dense(3)(other), plain])
    model = Model(ids, [merged, merge()([plain, masked]),
                        layerc.layers.GlobalAveragePooling1D()(Add()([masked, other]))])
    x = np.array([[0, 1, 6, 3, 0], [2, 0, 0, 5, 4]], np.float32)
    like_reference(model, x)


@pytest.mark.parametrize("scores", [False, True])
def test_masked_grouped_attention(like_reference, scores):
    """The fused attention kernel with grouped heads, key masks, an
    attention mask, the causal mask and a window; some rows have nothing to
    attend (every key equally, or zeros with the scores)."""
    ids, am = Input((4,), dtype="int32"), Input((4, 4))
    x = Embedding(3, 4, mask_zero=True)(ids)
    out = layerc.layers.GroupQueryAttention(2, 4, 2, sliding_window=3)(
        x, x, attention_mask=am, use_causal_mask=True, return_attention_scores=scores)
    tokens = np.array([[1, 0, 2, 1], [0, 0, 0, 0], [2, 2, 0, 1]], np.int32)
    mask = (np.random.default_rng(1).uniform(size=(3, 4, 4)) < 0.8).astype(np.float32)
    like_reference(Model([ids, am], out), [tokens, mask])


@pytest.mark.parametrize("additive", [False, True])
def test_luong_and_bahdanau_attention(like_reference, additive):
    """Attention(concat scores) and AdditiveAttention: tanh scores, masked
    value steps lowered by 1e9, a masked query's output zeroed."""
    ids = Input((3,), dtype="int32")
    x = Embedding(3, 4, mask_zero=True)(ids)
    layer = layerc.layers.AdditiveAttention() if additive else \
        layerc.layers.Attention(use_scale=True, score_mode="concat")
    out = layer([x, x], return_attention_scores=True)
    like_reference(Model(ids, out), np.array([[1, 0, 2], [0, 0, 0]], np.int32))


def test_multi_head_attention(like_reference):
    """The dot op with a group axis (per-head products) and the projections."""
    q, v = Input((5, 4)), Input((3, 6))
    layer = layerc.layers.MultiHeadAttention(2, 3, value_dim=2, output_shape=5)
    like_reference(Model([q, v], layer(q, v, return_attention_scores=True)))
