"""Keras operations in functional graphs (`x + y`, `x * 2.0`,
keras.activations.*, keras.ops.*) converted by from_keras, against Keras 3:
from the model object and from a saved .keras file, compiled and on the
reference interpreter; and the operations layerc refuses, by name."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
import layerc.ir
from layerc.errors import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ATOL = 1e-5


def compare(oracle: Any, kmodel: Any, xs: list[np.ndarray], tmp_path: Any = None) -> None:
    expected = kmodel.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    expected = expected if isinstance(expected, list) else [expected]
    models = {"object": layerc.from_keras(kmodel)}
    if tmp_path is not None:
        kmodel.save(tmp_path / "m.keras")
        models["file"] = layerc.from_keras(tmp_path / "m.keras")
    for route, model in models.items():
        compiled = layerc.compile(model).predict(xs if len(xs) > 1 else xs[0])
        compiled = compiled if isinstance(compiled, list) else [compiled]
        reference = layerc.ir.interpret(model.to_graph(), xs)
        for i, (c, r, k) in enumerate(zip(compiled, reference, expected)):
            oracle.assert_close(np.asarray(c), np.asarray(k), f"{route} compiled {i}", ATOL)
            oracle.assert_close(np.asarray(r), np.asarray(k), f"{route} interpret {i}", ATOL)


def test_a_graph_of_operations_matches_keras(oracle, tmp_path):
    keras, ops = oracle.keras, oracle.keras.ops
    a, b = keras.Input((5, 4)), keras.Input((5, 4))
    h = keras.layers.Add()([a, b]) + b
    h = 1.0 - h * 2.0
    h = keras.activations.softmax(keras.activations.gelu(keras.activations.relu(h)), axis=1)
    h = ops.concatenate([keras.activations.leaky_relu(h, negative_slope=0.1), b], axis=-1)
    h = ops.maximum(-(h / 3), ops.relu(ops.sigmoid(h) - ops.tanh(h)))
    pooled = ops.mean(h, axis=1)
    outputs = [pooled, ops.reshape(h, (-1, 40)), ops.transpose(h, (0, 2, 1)),
               ops.squeeze(ops.expand_dims(pooled, 1), 1), ops.max(h, axis=1, keepdims=True),
               keras.layers.Dense(2)(h) + 1,
               keras.activations.relu(h, max_value=0.5, threshold=0.1)]
    kmodel = keras.Model([a, b], outputs)
    rng = np.random.default_rng(0)
    compare(oracle, kmodel, [rng.normal(size=(3, 5, 4)).astype(np.float32) for _ in range(2)],
            tmp_path)
    kinds = {layer.kind for layer in layerc.from_keras(kmodel).layers}
    assert {"Rescaling", "Activation", "Softmax", "LeakyReLU", "ReLU", "Concatenate",
            "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Reshape", "Permute"} <= kinds


ARITHMETIC = ["x + c", "c + x", "x - c", "c - x", "x * c", "c * x", "x / c", "-x"]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=st.sampled_from(ARITHMETIC), c=st.floats(-4, 4).filter(lambda v: abs(v) > 0.1),
       integer=st.booleans(), seed=st.integers(0, 999))
def test_tensor_and_number_arithmetic(oracle, form, c, integer, seed):
    keras = oracle.keras
    c = int(round(c)) or 1 if integer else c
    x = keras.Input((3, 2))
    y = eval(form, {"x": keras.layers.Dense(2)(x), "c": c})
    compare(oracle, keras.Model(x, y),
            [np.random.default_rng(seed).normal(size=(4, 3, 2)).astype(np.float32)])


ACTIVATION_OPS = ["relu", "relu6", "sigmoid", "tanh", "softplus", "softsign", "silu", "selu",
                  "hard_sigmoid", "hard_silu", "log_sigmoid", "exp", "gelu", "elu",
                  "leaky_relu", "softmax", "log_softmax", "hard_tanh", "sparse_plus",
                  "tanh_shrink"]


@pytest.mark.parametrize("name", ACTIVATION_OPS)
def test_activation_operations(oracle, name):
    keras = oracle.keras
    options = {"gelu": {"approximate": False}, "elu": {"alpha": 0.7},
               "leaky_relu": {"negative_slope": 0.3}, "softmax": {"axis": 1}}.get(name, {})
    fn = getattr(keras.ops, name, None) or getattr(keras.activations, name)
    x = keras.Input((4, 3))
    compare(oracle, keras.Model(x, fn(x, **options)),
            [np.random.default_rng(1).normal(size=(2, 4, 3)).astype(np.float32) * 3])


@pytest.mark.parametrize("op,axis,keepdims,shape", [
    ("mean", 1, False, (5, 3)), ("max", -2, True, (5, 3)), ("mean", (1, 2), False, (4, 3, 2)),
    ("max", (2, 1), True, (4, 3, 2))])
def test_mean_and_max_as_global_pooling(oracle, op, axis, keepdims, shape):
    keras = oracle.keras
    x = keras.Input(shape)
    y = getattr(keras.ops, op)(x, axis=axis, keepdims=keepdims)
    compare(oracle, keras.Model(x, y),
            [np.random.default_rng(2).normal(size=(3, *shape)).astype(np.float32)])


def test_operations_drop_masks_as_keras_does(oracle, tmp_path):
    """Token embedding (masked) plus a position embedding by `+`: the sum
    carries no mask in Keras, so the LSTM after it reads every step."""
    keras = oracle.keras
    ids = keras.Input((6,), dtype="int32")
    tokens = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
    positions = keras.layers.Embedding(10, 4)(ids)
    kmodel = keras.Model(ids, keras.layers.LSTM(3)(tokens + positions * 0.5))
    x = np.random.default_rng(3).integers(0, 10, (4, 6)).astype(np.int32)
    x[:, 4:] = 0
    compare(oracle, kmodel, [x], tmp_path)


def refusal(oracle: Any, build: Any) -> str:
    keras = oracle.keras
    x = keras.Input((5, 4))
    with pytest.raises(ConfigError) as err:
        layerc.from_keras(keras.Model(x, keras.layers.Dense(2)(build(keras, x))))
    return str(err.value)


def test_operations_without_a_layer_are_refused_by_name(oracle):
    text = refusal(oracle, lambda k, x: k.ops.matmul(x, k.ops.transpose(x, (0, 2, 1))))
    assert re.search(r"the Keras op 'matmul(_\d+)?' \(Matmul\), which is not converted: "
                     r"layerc has no layer for it$", text)
    text = refusal(oracle, lambda k, x: k.ops.expand_dims(k.ops.mean(x, axis=2), -1))
    assert re.search(r"'mean(_\d+)?' \(Mean\), which is not converted: layerc converts mean "
                     r"over axis 1 of a sequence", text)
    text = refusal(oracle, lambda k, x: k.activations.gelu(x, approximate=True))
    assert "gelu(approximate=True)" in text
    text = refusal(oracle, lambda k, x: k.ops.maximum(x, 0.0))
    assert "maximum of two tensors" in text


def test_an_operation_that_would_read_a_mask_is_refused(oracle):
    keras = oracle.keras
    ids = keras.Input((6,), dtype="int32")
    tokens = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
    kmodel = keras.Model(ids, keras.layers.Dense(1)(keras.ops.mean(tokens, axis=1)))
    with pytest.raises(ConfigError, match=r"'mean(_\d+)?' \(Mean\), which is not converted: "
                                          r"its input carries a mask"):
        layerc.from_keras(kmodel)
