"""The Keras-free reader of `.keras` files (layerc/keras_archive.py) against
the Keras route, which loads the same file with Keras itself.

For every layer family (core, convolutions, transposed, depthwise and
separable, pooling, recurrent with Bidirectional, TimeDistributed, RNN cells
and stateful layers, attention, normalization, merges, reshaping,
preprocessing and augmentation, masks, Keras operations, nested models,
shared layers, several inputs and outputs) and every example model, a saved
file converts to the same layerc model by both routes: the same config, IR
text and bit-identical weights; each layer's stand-in config equals the
`get_config()` of the layer Keras loads; a few predict as Keras does; and
what one route refuses the other refuses. A fresh process where keras
cannot be imported reads a file through the default route and predicts
what Keras predicted here.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
import layerc.ir
from layerc.errors import ConfigError
from layerc.keras_archive import read
from layerc.keras_objects import ArchivedLayer
from example_helpers import MODEL_EXAMPLES

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]


# ----- the models: every layer family -----
def seq(k: Any, shape: Any, *layers: Any, **options: Any) -> Any:
    return k.Sequential([k.Input(shape, **options), *layers])


def core(k: Any) -> Any:
    L = k.layers
    return seq(k, (3, 4, 2), L.Flatten(), L.Dense(12, activation="tanh"), L.Dropout(0.3),
               L.Reshape((3, -1)), L.Activation("softplus"), L.Flatten(),
               L.Dense(5, use_bias=False, kernel_regularizer=k.regularizers.L2(0.1)),
               L.Activation("softmax"))


def activations(k: Any) -> Any:
    L = k.layers
    return seq(k, (4, 6), L.Dense(8), L.ReLU(max_value=6.0, threshold=0.1), L.LeakyReLU(0.2),
               L.ELU(0.7), L.PReLU(shared_axes=[1]), L.Softmax(axis=1),
               L.Dense(3, activation="gelu"), L.Activation("hard_sigmoid"))


def convolutions(k: Any) -> Any:
    L = k.layers
    x, y, z = k.Input((10, 3)), k.Input((3, 9, 8)), k.Input((5, 6, 7, 2))
    a = L.Conv1D(4, 3, padding="causal", dilation_rate=2)(x)
    a = L.Conv1D(4, 2, strides=2, groups=2, activation="relu")(a)
    b = L.Conv2D(4, (3, 2), strides=(2, 1), data_format="channels_first", padding="same")(y)
    return k.Model([x, y, z], [a, b, L.Conv3D(3, 2, use_bias=False)(z)])


def transposed(k: Any) -> Any:
    L = k.layers
    x, y, z = k.Input((6, 3)), k.Input((5, 4, 2)), k.Input((3, 4, 3, 2))
    return k.Model([x, y, z], [
        L.Conv1DTranspose(4, 3, strides=2)(x),
        L.Conv2DTranspose(3, (3, 2), strides=2, output_padding=1, padding="same")(y),
        L.Conv3DTranspose(2, 2, strides=(1, 2, 1))(z)])


def depthwise(k: Any) -> Any:
    L = k.layers
    x, y = k.Input((9, 4)), k.Input((8, 7, 3))
    a = L.SeparableConv1D(5, 3, depth_multiplier=2, padding="same")(L.DepthwiseConv1D(3)(x))
    b = L.SeparableConv2D(4, 3, strides=2)(L.DepthwiseConv2D((3, 2), depth_multiplier=2)(y))
    return k.Model([x, y], [a, b])


def pooling(k: Any) -> Any:
    L = k.layers
    x, y, z = k.Input((9, 3)), k.Input((7, 6, 2)), k.Input((4, 5, 6, 2))
    return k.Model([x, y, z], [
        L.MaxPooling1D(3, strides=2, padding="same")(x), L.AveragePooling1D(2)(x),
        L.GlobalMaxPooling1D()(x), L.GlobalAveragePooling1D(data_format="channels_first")(x),
        L.MaxPooling2D((2, 3))(y), L.AveragePooling2D(2, strides=(2, 1))(y),
        L.GlobalMaxPooling2D(keepdims=True)(y), L.GlobalAveragePooling2D()(y),
        L.MaxPooling3D(2)(z), L.AveragePooling3D((1, 2, 2))(z), L.GlobalMaxPooling3D()(z),
        L.GlobalAveragePooling3D()(z)])


def recurrent(k: Any) -> Any:
    L = k.layers
    x = k.Input((7, 4))
    a = L.SimpleRNN(5, return_sequences=True, activation="relu")(x)
    a = L.GRU(4, reset_after=False, go_backwards=True, return_sequences=True)(a)
    a = L.LSTM(3, dropout=0.2, unroll=True)(a)
    b = L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum")(x)
    b = L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(2, go_backwards=True))(b)
    c = L.RNN(L.StackedRNNCells([L.LSTMCell(3), L.GRUCell(2), L.SimpleRNNCell(2)]))(x)
    d = L.RNN(L.LSTMCell(3), return_sequences=True, go_backwards=True)(x)
    e = L.TimeDistributed(L.Dense(2, activation="relu"))(d)
    return k.Model(x, [a, b, c, e])


def conv_lstm(k: Any) -> Any:
    L = k.layers
    x, y = k.Input((3, 6, 2)), k.Input((3, 5, 5, 2))
    return k.Model([x, y], [L.ConvLSTM1D(3, 2, return_sequences=True)(x),
                            L.ConvLSTM2D(2, (2, 3), padding="same")(y)])


def states(k: Any) -> Any:
    """An encoder's final states start a decoder; one output of the encoder unused."""
    L = k.layers
    enc, dec = k.Input((7, 3)), k.Input((5, 2))
    first = L.LSTM(4, return_state=True)(enc)
    second = L.GRU(4, return_sequences=True)(dec, initial_state=first[1])
    return k.Model([enc, dec], [second, first[0]])


def stateful(k: Any) -> Any:
    L = k.layers
    return seq(k, None, L.GRU(5, stateful=True, return_sequences=True),
               L.LSTM(3, stateful=True), batch_shape=(2, 4, 3))


def attention(k: Any) -> Any:
    L = k.layers
    q, v = k.Input((5, 4)), k.Input((6, 4))
    return k.Model([q, v], [
        L.MultiHeadAttention(2, 3, use_gate=True)(q, v),
        L.MultiHeadAttention(2, 2, value_dim=3, output_shape=5)(q, v, v),
        L.GroupQueryAttention(2, 4, 2)(q, v), L.GroupQueryAttention(2, 2, 1, use_gate=True)(q, v),
        L.Attention(use_scale=True, score_mode="concat")([q, v]),
        L.AdditiveAttention()([q, v, v], use_causal_mask=True),
        L.EinsumDense("abc,cd->abd", output_shape=(None, 3), bias_axes="d")(q)])


def masked_attention(k: Any) -> Any:
    L = k.layers
    ids = k.Input((6,), dtype="int32")
    x = L.Embedding(9, 4, mask_zero=True)(ids)
    return k.Model(ids, [L.MultiHeadAttention(2, 2)(x, x), L.Attention()([x, x])])


def masked_attention_pooled(k: Any) -> Any:
    """Keras's mask of attention outputs added together is one layerc does
    not make (both routes refuse it)."""
    L = k.layers
    ids = k.Input((6,), dtype="int32")
    x = L.Embedding(9, 4, mask_zero=True)(ids)
    both = L.Add()([L.MultiHeadAttention(2, 2)(x, x), L.Attention()([x, x])])
    return k.Model(ids, L.GlobalAveragePooling1D()(both))


def normalization(k: Any) -> Any:
    L = k.layers
    x = k.Input((5, 6))
    adapted = L.Normalization()
    adapted.adapt(np.arange(60, dtype=np.float32).reshape(2, 5, 6))
    return k.Model(x, [
        L.BatchNormalization(momentum=0.9)(x), L.LayerNormalization(axis=[1, 2])(x),
        L.GroupNormalization(groups=3)(x), L.UnitNormalization()(x),
        L.RMSNormalization(epsilon=1e-4)(x), adapted(x),
        L.Normalization(mean=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], variance=[1.0] * 6)(x),
        L.Normalization(axis=None, mean=2.0, variance=3.0)(x)])


def merges(k: Any) -> Any:
    L = k.layers
    a, b, c = (k.Input((4,), name=n) for n in "abc")
    da, db, dc = (L.Dense(6)(t) for t in (a, b, c))
    merged = [L.Add()([da, db, dc]), L.Subtract()([da, db]), L.Multiply()([da, dc]),
              L.Average()([db, dc]), L.Maximum()([da, db, dc]), L.Minimum()([da, dc])]
    x, y = k.Input((3, 4)), k.Input((5, 4))
    return k.Model([a, b, c, x, y], [L.Dense(3)(L.Concatenate()(merged)), merged[1],
                                     L.Dot(axes=1, normalize=True)([da, db]),
                                     L.Concatenate(axis=1)([x, y])])


def reshaping(k: Any) -> Any:
    L = k.layers
    x, y, z = k.Input((6, 3)), k.Input((5, 4, 2)), k.Input((4, 3, 4, 2))
    return k.Model([x, y, z], [
        L.Permute((2, 1))(x), L.ZeroPadding1D((1, 2))(x), L.Cropping1D((1, 2))(x),
        L.UpSampling1D(2)(x), L.RepeatVector(3)(L.Flatten()(x)),
        L.ZeroPadding2D(((1, 0), (2, 1)))(y), L.Cropping2D(((1, 0), (0, 1)))(y),
        L.UpSampling2D((2, 1), interpolation="bilinear")(y), L.ZeroPadding3D(1)(z),
        L.Cropping3D(((1, 0), (0, 1), (1, 1)))(z), L.UpSampling3D((1, 2, 1))(z),
        L.Reshape((8, 5))(y)])


def preprocessing(k: Any) -> Any:
    L = k.layers
    x = k.Input((8, 8, 3))
    return k.Model(x, [
        L.Rescaling(1 / 255.0, offset=-0.5)(x), L.Rescaling(np.array([1.0, 2.0, 0.5]))(x),
        L.Resizing(5, 6, interpolation="bilinear")(x), L.CenterCrop(4, 6)(x), L.Identity()(x),
        L.SpatialDropout2D(0.3)(x), L.GaussianNoise(0.5)(x), L.GaussianDropout(0.4)(x),
        L.AlphaDropout(0.1)(x)])


def augmentation(k: Any) -> Any:
    """Every augmentation class the importer takes (options as the oracle
    tests give), but RandomShear: Keras 3.15 cannot load the file it writes
    for one (its saved x_factor fails its own check)."""
    from layerc.keras_layers import AUGMENTATION
    from oracle.test_from_keras import AUGMENTATION_ARGS

    x = k.Input((8, 8, 3))
    return k.Model(x, [getattr(k.layers, name)(**AUGMENTATION_ARGS.get(name, {}))(x)
                       for name in AUGMENTATION if name != "RandomShear"])


def masking(k: Any) -> Any:
    L = k.layers
    ids, features = k.Input((9,), dtype="int32"), k.Input((7, 3))
    e = L.Embedding(20, 5, mask_zero=True)(ids)
    sequence = L.LSTM(4, return_sequences=True)(L.Dropout(0.2)(L.GRU(6, return_sequences=True)(e)))
    joined = L.Concatenate()([L.Dense(5)(e), L.Dense(5)(sequence)])
    return k.Model([ids, features], [
        L.GlobalAveragePooling1D()(sequence), L.SimpleRNN(3)(sequence),
        L.SimpleRNN(3)(L.Masking(0.0)(features)), L.GRU(2)(joined),
        L.Bidirectional(L.LSTM(2, return_sequences=True))(e)])


def masked_sequential(k: Any) -> Any:
    L = k.layers
    return seq(k, (7,), L.Embedding(9, 4, mask_zero=True),
               L.Bidirectional(L.LSTM(3, return_sequences=True)), L.TimeDistributed(L.Dense(2)),
               L.GlobalAveragePooling1D(), L.Dense(2), dtype="int32")


def operations(k: Any) -> Any:
    ops, acts = k.ops, k.activations
    a, b = k.Input((5, 4)), k.Input((5, 4))
    h = 1.0 - (k.layers.Add()([a, b]) + b) * 2.0
    h = acts.softmax(acts.gelu(acts.relu(h)), axis=1)
    h = ops.concatenate([acts.leaky_relu(h, negative_slope=0.1), b], axis=-1)
    h = ops.maximum(-(h / 3), ops.relu(ops.sigmoid(h) - ops.tanh(h)))
    pooled = ops.mean(h, axis=1)
    return k.Model([a, b], [
        pooled, ops.reshape(h, (-1, 40)), ops.transpose(h, (0, 2, 1)),
        ops.squeeze(ops.expand_dims(pooled, 1), 1), ops.max(h, axis=1, keepdims=True),
        k.layers.Dense(2)(h) + 1, acts.relu(h, max_value=0.5, threshold=0.1),
        ops.log_softmax(ops.elu(h, alpha=0.5)), ops.expand_dims(pooled, -1),
        ops.minimum(a, b) * b, ops.divide(a, 4.0),
        *(getattr(ops, name)(a) for name in ("relu6", "softplus", "softsign", "silu", "selu",
                                             "hard_sigmoid", "hard_silu", "log_sigmoid", "exp",
                                             "hard_tanh", "tanh_shrink", "sparse_plus",
                                             "sparse_sigmoid"))])


def nested(k: Any) -> Any:
    """A Sequential called twice (its weights shared), a functional model in a model."""
    L = k.layers
    enc = k.Sequential([k.Input((8,)), L.Dense(4, activation="relu"), L.Dense(2)])
    x = k.Input((8,))
    inner = k.Model(x, L.Dense(3)(x))
    a, b = k.Input((8,)), k.Input((8,))
    return k.Model([a, b], [L.Subtract()([enc(a), enc(b)]), inner(a), inner(b)])


def nested_sequential(k: Any) -> Any:
    L = k.layers
    enc = k.Sequential([k.Input((8,)), L.Dense(4, activation="relu"), L.Dense(2)])
    return k.Sequential([k.Input((8,)), enc, L.Dense(3)])


def shared(k: Any) -> Any:
    """A layer called twice, inputs and outputs given as dicts."""
    L = k.layers
    left, right = k.Input((5,), name="left"), k.Input((5,), name="right")
    dense = L.Dense(4, activation="relu")
    again = dense(right)
    return k.Model({"left": left, "right": right},
                   {"diff": L.Subtract()([dense(left), again]), "right": again})


def embedding(k: Any) -> Any:
    L = k.layers
    return seq(k, (6,), L.Embedding(30, 4), L.Conv1D(3, 2), L.Flatten(), L.Dense(2),
               dtype="int32")


FAMILIES = [core, activations, convolutions, transposed, depthwise, pooling, recurrent,
            conv_lstm, states, stateful, attention, masked_attention, normalization, merges,
            reshaping, preprocessing, augmentation, masking, masked_sequential, operations,
            nested, nested_sequential, shared, embedding]


# ----- the checks -----
def randomize(kmodel: Any, seed: int) -> None:
    """Noise in every weight (an adapted Normalization's statistics too)."""
    rng = np.random.default_rng(seed)
    for klayer in kmodel.layers:
        if hasattr(klayer, "layers"):
            randomize(klayer, seed + 1)
            continue
        weights = klayer.get_weights()
        if weights:
            klayer.set_weights([rng.uniform(0.1, 0.9, w.shape).astype(w.dtype)
                                if w.dtype.kind == "f" else w for w in weights])


def assert_same_model(by_keras: Any, by_file: Any) -> None:
    """One layerc model: same class, config, IR text and bit-identical weights."""
    assert type(by_keras) is type(by_file)
    assert by_keras.get_config() == by_file.get_config()
    assert layerc.ir.to_text(by_keras.to_graph()) == layerc.ir.to_text(by_file.to_graph())
    for mine, theirs in zip(by_keras.layers, by_file.layers, strict=True):
        assert mine.name == theirs.name and mine.kind == theirs.kind
        for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape, mine.name
            assert np.array_equal(a, b), f"{mine.name}: weights differ"


def same_value(mine: Any, theirs: Any) -> bool:
    """Equal, with tuples and lists kept apart (a Keras TrackedList is a list)."""
    if isinstance(theirs, (list, tuple)):
        return type(mine) is (tuple if isinstance(theirs, tuple) else list) and \
            len(mine) == len(theirs) and all(same_value(a, b) for a, b in zip(mine, theirs))
    if isinstance(theirs, dict):
        return isinstance(mine, dict) and mine.keys() == theirs.keys() and \
            all(same_value(mine[k], theirs[k]) for k in theirs)
    if isinstance(theirs, np.ndarray):
        return np.array_equal(mine, theirs)
    return type(mine) is type(theirs) and mine == theirs


def assert_keras_configs(model: ArchivedLayer, kmodel: Any) -> int:
    """Each stand-in's config is what the loaded Keras layer's get_config
    gives (the layers wrappers and RNNs hold too); returns how many."""
    klayers = {kl.name: kl for kl in kmodel.layers}
    checked = 0
    for layer in model.layers:
        if layer.kind != "layer":
            checked += assert_keras_configs(layer, klayers[layer.name])
            continue
        checked += assert_keras_config(layer, klayers[layer.name])
    return checked


def assert_keras_config(layer: ArchivedLayer, klayer: Any) -> int:
    theirs = klayer.get_config()
    mine = layer.get_config()
    bad = [key for key in theirs if not same_value(mine.get(key), theirs[key])]
    assert mine.keys() == theirs.keys() and not bad, \
        f"{layer.name} ({layer.class_name}): {[(k, mine.get(k), theirs[k]) for k in bad]}"
    checked = 1
    for attr in ("cell", "layer", "forward_layer", "backward_layer"):
        inner = layer.attributes.get(attr)
        if inner is not None:
            checked += assert_keras_config(inner, getattr(klayer, attr))
    for inner, kinner in zip(layer.attributes.get("cells", []), getattr(klayer, "cells", [])):
        checked += assert_keras_config(inner, kinner)
    return checked


@pytest.fixture(scope="module")
def saved(keras: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each family's model with random weights, saved by Keras."""
    folder = tmp_path_factory.mktemp("keras_archive")
    files = {}
    for i, make in enumerate(FAMILIES):
        kmodel = make(keras)
        randomize(kmodel, i)
        files[make.__name__] = folder / f"{make.__name__}.keras"
        kmodel.save(files[make.__name__])
    return files


@pytest.mark.parametrize("family", [f.__name__ for f in FAMILIES])
def test_every_family_gives_the_same_model_by_both_routes(keras, saved, family):
    path = saved[family]
    assert_same_model(layerc.from_keras(path, use_keras=True),
                      layerc.from_keras(path, use_keras=False))
    checked = assert_keras_configs(read(path), keras.saving.load_model(path, compile=False))
    assert checked >= 1


def test_predictions_match_keras(keras, saved):
    """The file read without Keras predicts what Keras predicts (reference
    interpreter, a few families whose files hold the most)."""
    rng = np.random.default_rng(0)
    for family in ("recurrent", "attention", "normalization", "masking", "operations"):
        kmodel = keras.saving.load_model(saved[family], compile=False)
        xs = [rng.integers(0, 9, (3, *t.shape[1:])) if "int" in str(t.dtype) else
              rng.uniform(-1, 1, (3, *t.shape[1:])).astype(np.float32) for t in kmodel.inputs]
        want = kmodel.predict(xs, verbose=0)
        want = list(want.values()) if isinstance(want, dict) else \
            want if isinstance(want, list) else [want]
        model = layerc.from_keras(saved[family], use_keras=False)
        got = layerc.ir.interpret(model.to_graph(), xs)
        assert len(got) == len(want), family
        for i, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_allclose(g, w, atol=1e-4, rtol=1e-4, err_msg=f"{family} {i}")


def keras_example(keras: Any, path: Path) -> Any:
    from oracle.test_from_keras import keras_twin

    namespace = runpy.run_path(str(path), run_name="example")
    original = namespace["build_model"]()
    if "build" not in namespace:
        return keras_twin(keras, original)
    kmodel = namespace["build"](keras)
    for layer in original.layers:
        if layer.get_weights():
            kmodel.get_layer(layer.name).set_weights(layer.get_weights())
    return kmodel


@pytest.mark.parametrize("path", MODEL_EXAMPLES, ids=lambda p: p.stem)
def test_every_example_gives_the_same_model_by_both_routes(keras, path, tmp_path):
    file = tmp_path / f"{path.stem}.keras"
    keras_example(keras, path).save(file)
    assert_same_model(layerc.from_keras(file, use_keras=True),
                      layerc.from_keras(file, use_keras=False))
    assert_keras_configs(read(file), keras.saving.load_model(file, compile=False))


@st.composite
def window_model(draw: Any) -> tuple[str, dict[str, Any], tuple[int, ...]]:
    """A convolution or pooling of some rank with options given as ints,
    tuples or lists (JSON keeps none of them apart)."""
    rank = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["Conv", "MaxPooling", "AveragePooling", "Conv{}DTranspose",
                                 "UpSampling", "ZeroPadding", "Cropping"]))
    size = draw(st.integers(1, 2))
    spread = draw(st.sampled_from([int, tuple, list]))
    one_d = rank == 1 and kind in ("UpSampling", "ZeroPadding", "Cropping")  # ints there
    value: Any = size if spread is int or one_d else spread([size] * rank)
    options: dict[str, Any] = {}
    if kind in ("Conv", "Conv{}DTranspose"):
        options = {"filters": 2, "kernel_size": value, "strides": draw(st.sampled_from(
            [1, (1,) * rank, [2] * rank])), "padding": draw(st.sampled_from(["valid", "same"]))}
    elif kind.endswith("Pooling"):
        options = {"pool_size": value, "padding": draw(st.sampled_from(["valid", "same"]))}
    elif kind == "UpSampling":
        options = {"size": value}
    else:
        options = {"padding" if kind == "ZeroPadding" else "cropping": value}
    name = kind.format(rank) if "{}" in kind else f"{kind}{rank}D"
    return name, options, (6,) * rank + (2,)


@settings(max_examples=10, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(case=window_model())
def test_window_options_survive_the_file(keras, tmp_path, case):
    name, options, shape = case
    kmodel = seq(keras, shape, getattr(keras.layers, name)(**options))
    randomize(kmodel, 1)
    file = tmp_path / "window.keras"
    kmodel.save(file)
    assert_same_model(layerc.from_keras(file, use_keras=True),
                      layerc.from_keras(file, use_keras=False))
    assert_keras_configs(read(file), keras.saving.load_model(file, compile=False))


# ----- what both refuse -----
def refusals(k: Any) -> dict[str, tuple[Any, list[str]]]:
    L = k.layers
    x = k.Input((4,))
    ids, h = k.Input((6,), dtype="int32"), k.Input((3,))
    seq_ids = L.Embedding(9, 2, mask_zero=True)(ids)
    return {
        "op": (k.Model(x, k.ops.matmul(L.Dense(2)(x), k.ops.ones((2, 2)))),
               ["Keras op", "matmul", "not converted"]),
        "class": (seq(k, (5, 3), L.AdaptiveMaxPooling1D(2, name="ap")),
                  ["'ap'", "AdaptiveMaxPooling1D", "no such layer"]),
        "policy": (seq(k, (5,), L.Dense(3, dtype="mixed_float16", name="half")),
                   ["'half'", "Dense", "mixed_float16"]),
        "lora": (seq(k, (6, 6, 4), L.Conv2D(4, 3, lora_rank=2, name="lora")),
                 ["'lora'", "lora_rank=2"]),
        "training": (k.Model(x, L.Dropout(0.5, name="drop")(x, training=True)),
                     ["'drop'", "training=True"]),
        "initial_state": (k.Model([ids, h], L.GRU(3, name="rnn")(seq_ids, initial_state=[h])),
                          ["'rnn'", "GRU", "mask", "initial_state"]),
        "masked_attention": (masked_attention_pooled(k), ["Keras calls it with a mask made by"]),
    }


def test_what_keras_refuses_the_file_reader_refuses(keras, tmp_path):
    """Each refusal of the Keras route, by the file reader too, in the same
    words (and the file named)."""
    for name, (kmodel, words) in refusals(keras).items():
        file = tmp_path / f"{name}.keras"
        kmodel.save(file)
        for use_keras in (True, False):
            with pytest.raises(ConfigError) as info:
                layerc.from_keras(file, use_keras=use_keras)
            message = str(info.value)
            assert all(w in message for w in words), f"{name} ({use_keras}): {message}"
            assert use_keras or str(file) in message, message


# ----- without keras at all -----
BLOCKED = textwrap.dedent("""
    import sys
    sys.modules["keras"] = None  # import keras now raises ImportError
    import numpy as np
    import layerc
    import layerc.ir
    path, out = sys.argv[1], sys.argv[2]
    model = layerc.from_keras(path)
    xs = dict(np.load(out))
    got = layerc.ir.interpret(model.to_graph(), [xs["x0"], xs["x1"]])[0]  # no JIT wait
    np.save(out + ".got.npy", got)
    print(sorted(m for m in ("keras", "torch") if sys.modules.get(m) is not None))
""")


def test_a_process_without_keras_reads_the_file(keras, tmp_path):
    L = keras.layers
    ids, features = keras.Input((8,), dtype="int32"), keras.Input((6,))
    text = L.Bidirectional(L.LSTM(4))(L.Embedding(15, 3, mask_zero=True)(ids))
    joined = L.Concatenate()([text, L.Dense(4, activation="relu")(features)])
    kmodel = keras.Model([ids, features], L.Dense(2, activation="softmax")(joined) * 2.0)
    randomize(kmodel, 3)
    file = tmp_path / "m.keras"
    kmodel.save(file)
    rng = np.random.default_rng(0)
    token_ids = rng.integers(0, 15, (5, 8))
    token_ids[:, :3] = 0  # padding the mask hides
    xs = {"x0": token_ids, "x1": rng.uniform(-1, 1, (5, 6)).astype(np.float32)}
    np.savez(tmp_path / "xs.npz", **xs)
    want = kmodel.predict([xs["x0"], xs["x1"]], verbose=0)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    run = subprocess.run([sys.executable, "-c", BLOCKED, str(file), str(tmp_path / "xs.npz")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"  # neither keras nor torch imported
    got = np.load(tmp_path / "xs.npz.got.npy")
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_cli_compiles_a_keras_file_without_keras(keras, tmp_path):
    """`layerc compile m.keras` where keras cannot be imported."""
    kmodel = seq(keras, (5, 3), keras.layers.Conv1D(4, 2, activation="relu"),
                 keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(2))
    randomize(kmodel, 4)
    kmodel.save(tmp_path / "m.keras")
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "keras.py").write_text("raise ImportError('keras is blocked in this test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get(
        "PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-m", "layerc", "compile", str(tmp_path / "m.keras"),
                          "-o", str(tmp_path / "m.lcz")], capture_output=True, text=True,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    x = np.random.default_rng(1).uniform(-1, 1, (3, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(layerc.load(tmp_path / "m.lcz").predict(x),
                               kmodel.predict(x, verbose=0), atol=1e-5, rtol=0)


def test_legacy_h5_without_keras_is_refused(keras):
    path = Path(__file__).parent.parent / "fixtures" / "keras2" / "mlp.h5"
    with pytest.raises(ConfigError, match=r"mlp\.h5: reading a legacy HDF5 model needs Keras"):
        layerc.from_keras(path, use_keras=False)


def test_stateful_layers_start_from_zeros_by_both_routes(keras, saved):
    """A .keras file holds no states: read either way, a stateful model's
    first call is Keras's first call on the loaded model."""
    kmodel = keras.saving.load_model(saved["stateful"], compile=False)
    x = np.random.default_rng(2).uniform(-1, 1, (2, 4, 3)).astype(np.float32)
    want = kmodel.predict(x, verbose=0)
    for use_keras in (True, False):
        model = layerc.from_keras(saved["stateful"], use_keras=use_keras)
        assert all(layer.stateful for layer in model.layers)
        np.testing.assert_allclose(layerc.ir.interpret(model.to_graph(), [x])[0], want,
                                   atol=1e-5)
