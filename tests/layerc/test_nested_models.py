"""Models used as layers: a layerc Model called on tensors and a Sequential
added to a Sequential are inlined, their layers and weights shared with the
inner model (Keras models nested in Keras models: tests/oracle/test_from_keras.py)."""

from __future__ import annotations

import numpy as np
import pytest

import layerc
from layerc import ConfigError, ShapeError
from layerc.layers import Dense, Input, Subtract
from layerc.testing import assert_compiles_like_reference



@pytest.fixture
def rng():
    return np.random.default_rng(0)


def encoder():
    return layerc.Sequential([Input((6,)), Dense(4, activation="relu", name="e1"),
                              Dense(2, name="e2")], name="encoder")


def test_a_model_called_on_tensors_is_inlined_and_shares_weights(rng):
    enc = encoder()
    a, b = Input((6,)), Input((6,))
    siamese = layerc.Model([a, b], Subtract(name="d")([enc(a), enc(b)]))
    assert [layer.name for layer in siamese.layers if layer.kind == "Dense"] == ["e1", "e2"]
    xs = [rng.uniform(-1, 1, (3, 6)).astype(np.float32) for _ in range(2)]
    want = enc.predict(xs[0]) - enc.predict(xs[1])
    np.testing.assert_allclose(siamese.predict(xs), want, atol=1e-6)
    enc.layers[0].set_weights([w * 2 for w in enc.layers[0].get_weights()])
    want = enc.predict(xs[0]) - enc.predict(xs[1])
    np.testing.assert_allclose(siamese.predict(xs), want, atol=1e-6)
    assert_compiles_like_reference(siamese, xs)


def test_a_sequential_added_to_a_sequential(rng):
    enc = encoder()
    model = layerc.Sequential([Input((6,)), enc, Dense(3, name="head")])
    assert [layer.name for layer in model.layers] == ["e1", "e2", "head"]
    x = rng.uniform(-1, 1, (2, 6)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), model.layers[-1].get_weights()[0].T.dot(
        enc.predict(x).T).T + model.layers[-1].get_weights()[1], atol=1e-5)


def test_refusals_name_the_model():
    enc = encoder()
    with pytest.raises(ShapeError, match="encoder: input .* expects f32\\[\\?,6\\]"):
        enc(Input((5,)))
    x = Input((6,))
    functional = layerc.Model(x, Dense(2)(x), name="f")
    with pytest.raises(ConfigError, match="functional model 'f' cannot be a layer of a "
                                          "Sequential"):
        layerc.Sequential([Input((6,)), functional])
