"""RNN(cell) against Keras 3: one SimpleRNNCell, GRUCell or LSTMCell is that
cell's layer (masks, states, initial_state and stateful as the layer's);
StackedRNNCells run as a stack of layers; from_keras of both; refusals."""

from __future__ import annotations

import numpy as np
import pytest

import layerc
from layerc.errors import ConfigError
from layerc.layers import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ATOL = 1e-5
CELLS = {"SimpleRNNCell": SimpleRNNCell, "GRUCell": GRUCell, "LSTMCell": LSTMCell}


def cell(ns, kind, units, **options):
    return getattr(ns.layers, kind)(units, **options)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("return_sequences,return_state", [(False, False), (True, True)])
def test_one_cell_is_its_layer(oracle, kind, return_sequences, return_state):
    def fn(ns, ids):
        h = ns.layers.Embedding(9, 3, mask_zero=True, name="emb")(ids)
        return ns.layers.RNN(cell(ns, kind, 4, activation="tanh"), name="rnn",
                             return_sequences=return_sequences, return_state=return_state,
                             go_backwards=True)(h)

    ids = layerc.Input((6,), dtype="int32")
    model = layerc.Model(ids, fn(layerc, ids))
    assert type(model.get_layer("rnn")).__name__ == kind.removesuffix("Cell")
    kids = oracle.keras.Input((6,), dtype="int32")
    kmodel = oracle.keras.Model(kids, fn(oracle.keras, kids))
    x = np.random.default_rng(0).integers(0, 9, (5, 6)).astype(np.int32)
    x[1, 3:] = 0
    x[2, :2] = 0
    rng = np.random.default_rng(1)
    oracle.randomize(model, rng)
    oracle.copy_weights(model, kmodel)
    expected = oracle.run_keras(kmodel, [x])
    for name, got in (("compiled", layerc.compile(model).predict(x)),
                      ("from_keras", layerc.compile(layerc.from_keras(kmodel)).predict(x))):
        got = got if isinstance(got, list) else [got]
        for i, (g, k) in enumerate(zip(got, expected)):
            oracle.assert_close(np.asarray(g), k, f"{name} output {i}", ATOL)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("return_sequences,return_state", [(False, False), (True, True),
                                                           (False, True)])
def test_stacked_cells_match_keras(oracle, masked, return_sequences, return_state, tmp_path):
    def fn(ns, ids):
        h = ns.layers.Embedding(9, 3, mask_zero=masked, name="emb")(ids)
        cells = [cell(ns, "LSTMCell", 4, name="c0"), cell(ns, "GRUCell", 3, name="c1"),
                 cell(ns, "SimpleRNNCell", 2, activation="relu", name="c2")]
        out = ns.layers.RNN(ns.layers.StackedRNNCells(cells), name="rnn",
                            return_sequences=return_sequences, return_state=return_state)(h)
        # Keras nests each cell's states ((y, [h0, c0], h1, h2)); layerc's are flat
        return ns.tree.flatten(out) if ns is oracle.keras else out

    ids = layerc.Input((7,), dtype="int32")
    model = layerc.Model(ids, fn(layerc, ids))
    kids = oracle.keras.Input((7,), dtype="int32")
    kmodel = oracle.keras.Model(kids, fn(oracle.keras, kids))
    assert [w.shape for w in model.get_weights()] == [tuple(w.shape) for w in
                                                      kmodel.get_weights()]
    rng = np.random.default_rng(2)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    kmodel.set_weights(model.get_weights())
    x = rng.integers(0, 9, (4, 7)).astype(np.int32)
    x[0, 4:] = 0
    x[3, 1:3] = 0
    expected = oracle.run_keras(kmodel, [x])
    kmodel.save(tmp_path / "m.keras")
    for name, m in (("layerc", model), ("from_keras", layerc.from_keras(kmodel)),
                    ("file", layerc.from_keras(tmp_path / "m.keras"))):
        got = layerc.compile(m).predict(x)
        got = got if isinstance(got, list) else [got]
        assert len(got) == len(expected), name
        for i, (g, k) in enumerate(zip(got, expected)):
            oracle.assert_close(np.asarray(g), k, f"{name} output {i}", ATOL)


def test_refusals_and_configs():
    stacked = StackedRNNCells([LSTMCell(2), GRUCell(2)])
    with pytest.raises(ConfigError, match="go_backwards and stateful are not supported"):
        RNN(stacked, go_backwards=True)
    with pytest.raises(ConfigError, match="return_sequences is an option of the RNN layer"):
        LSTMCell(2, return_sequences=True)
    with pytest.raises(ConfigError, match="expects SimpleRNNCell, GRUCell or LSTMCell"):
        StackedRNNCells([LSTM(2)])
    layer = RNN(stacked, return_sequences=True, name="r")
    again = layerc.layers.deserialize(layerc.layers.serialize(layer))
    assert again.get_config() == layer.get_config()
    single = RNN(GRUCell(3, reset_after=False), return_state=True)
    assert isinstance(single, GRU) and not single.reset_after and single.return_state
