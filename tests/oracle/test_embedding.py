"""Embedding against Keras 3, and its index checks (the document's example 6)."""

import numpy as np
import pytest

import layerc
from layerc import ConfigError, InputError
from layerc.layers import Dense, Embedding, Flatten


def test_example_6_shape_and_values_match_keras(keras):
    model = layerc.Sequential()
    model.add(Embedding(1000, 64, input_length=10))
    model.compile("rmsprop", "mse")
    x = np.random.default_rng(0).integers(1000, size=(32, 10))
    out = model.predict(x)
    assert out.shape == (32, 10, 64)
    k = keras.Sequential([keras.Input((10,), dtype="int32"), keras.layers.Embedding(1000, 64)])
    k.layers[0].set_weights(model.layers[0].get_weights())
    np.testing.assert_array_equal(out, k.predict(x, verbose=0))


def test_embedding_then_dense_matches_keras_on_float_indices(keras):
    model = layerc.Sequential([Embedding(20, 4, input_length=6), Flatten(),
                               Dense(3, activation="tanh")])
    x = np.random.default_rng(1).integers(20, size=(5, 6))
    k = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4),
                          keras.layers.Flatten(), keras.layers.Dense(3, activation="tanh")])
    for mine, theirs in zip([layer for layer in model.layers if layer.get_weights()],
                            [layer for layer in k.layers if layer.get_weights()]):
        theirs.set_weights(mine.get_weights())
    want = k.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x), want, atol=1e-6)
    np.testing.assert_allclose(model.predict(x.astype(np.float64)), want, atol=1e-6)
    np.testing.assert_allclose(layerc.ir.interpret(model.to_graph(), [x])[0], want, atol=1e-6)


@pytest.mark.parametrize("bad", [7, -1, 100])
def test_out_of_range_indices_are_input_errors(bad):
    model = layerc.Sequential([Embedding(7, 2, input_length=3, name="emb")])
    x = np.array([[0, 1, bad]])
    with pytest.raises(InputError, match=rf"index {bad} is outside \[0, 7\) of emb \(Embedding\)"):
        model.predict(x)


def test_bad_dtypes_and_options():
    model = layerc.Sequential([Embedding(7, 2, input_length=3)])
    with pytest.raises(InputError, match="integer"):
        model.predict(np.array([["a", "b", "c"]]))
    with pytest.raises(ConfigError, match="input_dim"):
        Embedding(0, 2)


def test_computed_out_of_range_index_gives_nan_rows_not_a_crash():
    x = layerc.Input((2,), name="x")
    idx = Dense(2, use_bias=False, kernel_initializer="ones", name="d")(x)
    model = layerc.Model(x, Embedding(3, 2, name="e")(idx))
    out = model.predict(np.array([[5.0, 5.0], [0.0, 0.0]], np.float32))
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
