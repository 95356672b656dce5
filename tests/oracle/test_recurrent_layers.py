"""SimpleRNN, GRU and LSTM against Keras 3: every cell across return_sequences,
go_backwards, return_state, activations, use_bias, GRU's reset_after, unroll,
sequence lengths 1..100 (hypothesis), the document's stacked LSTMs (example 5)
and initial_state given as functional inputs.

Each case checks both the NumPy reference interpreter and the compiled model
against Keras (tests/oracle/conftest.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.layers import GRU, LSTM, SimpleRNN

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SWEEP = settings(max_examples=15, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

# DESIGN.md, "Numerics": recurrent layers agree with Keras to 1e-4 over 100 steps;
# short sequences hold a tighter bound.
SHORT = 1e-5
LONG = 1e-4

CELLS = ["simple_rnn", "gru", "lstm"]
LAYERC = {"simple_rnn": SimpleRNN, "gru": GRU, "lstm": LSTM}
KERAS = {"simple_rnn": "SimpleRNN", "gru": "GRU", "lstm": "LSTM"}
STATES = {"simple_rnn": 1, "gru": 1, "lstm": 2}


def data(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return rng.uniform(-scale, scale, shape).astype(np.float32)


def rnn_pair(oracle: Any, rng: np.random.Generator, cell: str, steps: int, features: int,
             units: int = 5, scale: float = 0.5, **options: Any) -> tuple[Any, Any]:
    """One recurrent layer named 'rnn' on an Input (steps, features), in layerc
    (weights randomized) and in Keras (weights copied by oracle.check)."""
    x = layerc.Input((steps, features), name="x")
    layer = LAYERC[cell](units, name="rnn", **options)
    model = layerc.Model(x, layer(x))
    oracle.randomize(model, rng, scale)
    kx = oracle.keras.Input((steps, features))
    klayer = getattr(oracle.layers, KERAS[cell])(units, name="rnn", **options)
    kmodel = oracle.keras.Model(kx, klayer(kx))
    return model, kmodel


# ----- the harness itself -----
def test_oracle_detects_a_wrong_recurrent_model(oracle, rng):
    """go_backwards on one side only must be caught."""
    model, _ = rnn_pair(oracle, rng, "lstm", 6, 3)
    kx = oracle.keras.Input((6, 3))
    kmodel = oracle.keras.Model(kx, oracle.layers.LSTM(5, name="rnn", go_backwards=True)(kx))
    with pytest.raises(AssertionError, match="differ from Keras"):
        oracle.check(model, kmodel, data(rng, (3, 6, 3)))


# ----- return_sequences x go_backwards -----
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("cell", CELLS)
def test_cells_match_keras(oracle, rng, cell, return_sequences, go_backwards):
    """With go_backwards, Keras returns the outputs in processing order
    (output[:, 0] is the step that read x[:, -1])."""
    model, kmodel = rnn_pair(oracle, rng, cell, 9, 4, return_sequences=return_sequences,
                             go_backwards=go_backwards)
    out = oracle.check(model, kmodel, data(rng, (3, 9, 4)), atol=SHORT)
    assert out.keras[0].shape == ((3, 9, 5) if return_sequences else (3, 5))


@pytest.mark.parametrize("cell", CELLS)
def test_go_backwards_equals_forward_on_the_reversed_sequence(oracle, rng, cell):
    """layerc's own consistency: backwards on x == forwards on x[:, ::-1]."""
    fwd, _ = rnn_pair(oracle, rng, cell, 7, 3, return_sequences=True)
    x = layerc.Input((7, 3))
    back_layer = LAYERC[cell](5, return_sequences=True, go_backwards=True)
    back = layerc.Model(x, back_layer(x))
    back_layer.set_weights(fwd.get_layer("rnn").get_weights())
    xs = data(rng, (4, 7, 3))
    np.testing.assert_allclose(back.predict(xs), fwd.predict(np.ascontiguousarray(xs[:, ::-1])),
                               atol=1e-6)


# ----- return_state -----
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("cell", CELLS)
def test_return_state_matches_keras(oracle, rng, cell, return_sequences, go_backwards):
    """LSTM returns [output, h, c]; GRU and SimpleRNN [output, h]."""
    model, kmodel = rnn_pair(oracle, rng, cell, 8, 3, return_state=True,
                             return_sequences=return_sequences, go_backwards=go_backwards)
    assert len(model.outputs) == 1 + STATES[cell]
    out = oracle.check(model, kmodel, data(rng, (4, 8, 3)), atol=SHORT)
    assert len(out.keras) == 1 + STATES[cell]
    for outputs in (out.reference, out.compiled):
        last = outputs[0][:, -1] if return_sequences else outputs[0]
        np.testing.assert_allclose(outputs[1], last, atol=1e-6)  # h is the last output
        for state in outputs[1:]:
            assert state.shape == (4, 5)


# ----- activations -----
ACTIVATION_CASES = [
    ("simple_rnn", "relu", None), ("simple_rnn", "sigmoid", None),
    ("simple_rnn", "hard_sigmoid", None), ("simple_rnn", "linear", None),
    ("simple_rnn", "softsign", None), ("simple_rnn", "elu", None),
    ("simple_rnn", "softmax", None),
    ("gru", "tanh", "hard_sigmoid"), ("gru", "relu", "sigmoid"), ("gru", "sigmoid", "tanh"),
    ("gru", "hard_sigmoid", "hard_sigmoid"), ("gru", "swish", "sigmoid"),
    ("gru", "softmax", "sigmoid"),
    ("lstm", "tanh", "hard_sigmoid"), ("lstm", "relu", "sigmoid"),
    ("lstm", "sigmoid", "relu"), ("lstm", "hard_sigmoid", "hard_sigmoid"),
    ("lstm", "softsign", "sigmoid"), ("lstm", "tanh", "softmax"),
]


@pytest.mark.parametrize("cell,activation,recurrent_activation", ACTIVATION_CASES,
                         ids=[f"{c}-{a}-{r}" for c, a, r in ACTIVATION_CASES])
def test_activations_match_keras(oracle, rng, cell, activation, recurrent_activation):
    """Keras applies each activation to the (batch, units) gate pre-activation,
    so softmax normalizes across the units."""
    options = {"activation": activation, "return_sequences": True}
    if recurrent_activation is not None:
        options["recurrent_activation"] = recurrent_activation
    model, kmodel = rnn_pair(oracle, rng, cell, 8, 3, scale=0.4, **options)
    oracle.check(model, kmodel, data(rng, (3, 8, 3)), atol=SHORT, rtol=1e-5)


def test_hard_sigmoid_is_keras_3s_definition(oracle, rng):
    """Keras 3 hard_sigmoid is clip(x/6 + 1/2, 0, 1), not Keras 2's x/5 slope:
    with large pre-activations both sides must still agree."""
    model, kmodel = rnn_pair(oracle, rng, "simple_rnn", 5, 2, units=4, scale=2.0,
                             activation="hard_sigmoid", return_sequences=True)
    xs = data(rng, (6, 5, 2), 2.0)
    out = oracle.check(model, kmodel, xs, atol=SHORT)
    values = out.keras[0]
    assert ((values > 0) & (values < 1)).any() and ((values == 0) | (values == 1)).any(), \
        "the input should reach both the linear part and the clipped part"


# ----- use_bias and GRU's two bias layouts -----
@pytest.mark.parametrize("cell,options", [("simple_rnn", {}), ("lstm", {}),
                                          ("gru", {"reset_after": True}),
                                          ("gru", {"reset_after": False})],
                         ids=["simple_rnn", "lstm", "gru-reset_after", "gru-reset_before"])
def test_use_bias_false_matches_keras(oracle, rng, cell, options):
    model, kmodel = rnn_pair(oracle, rng, cell, 6, 3, use_bias=False, return_sequences=True,
                             **options)
    assert len(model.get_layer("rnn").get_weights()) == 2
    oracle.check(model, kmodel, data(rng, (3, 6, 3)), atol=SHORT)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
def test_gru_reset_after_bias_shapes_and_values(oracle, rng, reset_after, return_sequences):
    model, kmodel = rnn_pair(oracle, rng, "gru", 10, 4, units=6, reset_after=reset_after,
                             return_sequences=return_sequences, go_backwards=True)
    shapes = [w.shape for w in model.get_layer("rnn").get_weights()]
    assert shapes == [(4, 18), (6, 18), (2, 18) if reset_after else (18,)]
    assert shapes == [tuple(w.shape) for w in kmodel.get_layer("rnn").get_weights()]
    oracle.check(model, kmodel, data(rng, (3, 10, 4)), atol=SHORT)


def test_gru_reset_after_modes_differ(oracle, rng):
    """Guard: the two GRU formulations give different numbers for the same
    kernels (so the tests above tell them apart)."""
    after, _ = rnn_pair(oracle, rng, "gru", 6, 3, reset_after=True)
    x = layerc.Input((6, 3))
    layer = GRU(5, reset_after=False)
    before = layerc.Model(x, layer(x))
    kernel, recurrent, bias = after.get_layer("rnn").get_weights()
    layer.set_weights([kernel, recurrent, bias[0]])
    after.get_layer("rnn").set_weights([kernel, recurrent,
                                        np.stack([bias[0], np.zeros_like(bias[1])])])
    xs = data(rng, (3, 6, 3), 2.0)
    assert np.abs(before.predict(xs) - after.predict(xs)).max() > 1e-3


# ----- unroll -----
@pytest.mark.parametrize("cell", CELLS)
def test_unroll_gives_the_same_numbers(oracle, rng, cell):
    model, kmodel = rnn_pair(oracle, rng, cell, 7, 3, unroll=True, return_sequences=True,
                             return_state=True)
    xs = data(rng, (3, 7, 3))
    out = oracle.check(model, kmodel, xs, atol=SHORT)
    rolled, _ = rnn_pair(oracle, rng, cell, 7, 3, return_sequences=True, return_state=True)
    rolled.get_layer("rnn").set_weights(model.get_layer("rnn").get_weights())
    for a, b in zip(rolled.predict(xs), out.compiled):
        np.testing.assert_allclose(a, b, atol=1e-6)


# ----- long sequences -----
@pytest.mark.parametrize("cell", CELLS)
def test_hundred_steps_within_1e_4(oracle, rng, cell):
    model, kmodel = rnn_pair(oracle, rng, cell, 100, 6, units=8, return_sequences=True,
                             return_state=True)
    oracle.check(model, kmodel, data(rng, (4, 100, 6)), atol=LONG)


@SWEEP
@given(cell=st.sampled_from(CELLS), steps=st.integers(1, 100), features=st.integers(1, 6),
       units=st.integers(1, 8), batch=st.integers(1, 3), return_sequences=st.booleans(),
       go_backwards=st.booleans(), use_bias=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_sequence_lengths_sweep(oracle, cell, steps, features, units, batch, return_sequences,
                                go_backwards, use_bias, seed):
    rng = np.random.default_rng(seed)
    model, kmodel = rnn_pair(oracle, rng, cell, steps, features, units=units,
                             return_sequences=return_sequences, go_backwards=go_backwards,
                             use_bias=use_bias)
    oracle.check(model, kmodel, data(rng, (batch, steps, features)), atol=LONG)


# ----- the document's example 5 -----
def test_example_5_single_lstm_shapes_and_aliases(oracle, rng):
    a = layerc.Sequential([LSTM(32, input_shape=(10, 64), name="rnn")])
    b = layerc.Sequential([LSTM(32, input_dim=64, input_length=10, name="rnn")])
    for model in (a, b):
        assert model.output_shape == (None, 32)
        assert model.input_shape == (None, 10, 64)
        assert [w.shape for w in model.get_weights()] == [(64, 128), (32, 128), (128,)]
        assert model.count_params() == 4 * (64 * 32 + 32 * 32 + 32)
    oracle.randomize(a, rng, 0.2)
    b.set_weights(a.get_weights())
    kmodel = oracle.keras.Sequential([oracle.keras.Input((10, 64)),
                                      oracle.layers.LSTM(32, name="rnn")])
    xs = data(rng, (5, 10, 64))
    out = oracle.check(a, kmodel, xs, atol=SHORT)
    np.testing.assert_array_equal(b.predict(xs), out.compiled[0])


def test_example_5_stacked_lstms(oracle, rng):
    model = layerc.Sequential()
    model.add(LSTM(64, input_dim=64, input_length=10, return_sequences=True, name="l1"))
    model.add(LSTM(32, return_sequences=True, name="l2"))
    model.add(LSTM(10, name="l3"))
    assert [layer.output_shape for layer in model.layers] == \
        [(None, 10, 64), (None, 10, 32), (None, 10)]
    assert model.output_shape == (None, 10)
    oracle.randomize(model, rng, 0.2)
    k = oracle.keras
    kmodel = k.Sequential([k.Input((10, 64)),
                           k.layers.LSTM(64, return_sequences=True, name="l1"),
                           k.layers.LSTM(32, return_sequences=True, name="l2"),
                           k.layers.LSTM(10, name="l3")])
    oracle.check(model, kmodel, data(rng, (6, 10, 64)), atol=SHORT)


# ----- initial_state in a functional graph -----
@pytest.mark.parametrize("return_state", [False, True], ids=["out", "out_and_states"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("cell", CELLS)
def test_initial_state_inputs_match_keras(oracle, rng, cell, go_backwards, return_state):
    """LSTM takes [h, c] Inputs, GRU and SimpleRNN [h]."""
    steps, features, units = 6, 3, 4
    k = oracle.keras
    names = ["h", "c"][:STATES[cell]]
    x = layerc.Input((steps, features), name="x")
    states = [layerc.Input((units,), name=n) for n in names]
    layer = LAYERC[cell](units, name="rnn", return_sequences=True, go_backwards=go_backwards,
                         return_state=return_state)
    model = layerc.Model([x, *states], layer(x, initial_state=states))
    oracle.randomize(model, rng)
    kx = k.Input((steps, features))
    kstates = [k.Input((units,)) for _ in names]
    klayer = getattr(k.layers, KERAS[cell])(units, name="rnn", return_sequences=True,
                                            go_backwards=go_backwards, return_state=return_state)
    kmodel = k.Model([kx, *kstates], klayer(kx, initial_state=kstates))
    xs = [data(rng, (3, steps, features))] + [data(rng, (3, units)) for _ in names]
    out = oracle.check(model, kmodel, xs, atol=SHORT)
    # The states matter: zero states give other numbers.
    zeros = [xs[0]] + [np.zeros_like(s) for s in xs[1:]]
    other = layerc.ir.interpret(model.to_graph(), zeros)[0]
    assert np.abs(other - out.keras[0]).max() > 1e-3


def test_initial_state_from_another_layer(oracle, rng):
    """An encoder's final [h, c] starts a decoder (the seq2seq pattern)."""
    k = oracle.keras
    enc_in = layerc.Input((5, 3), name="enc")
    dec_in = layerc.Input((4, 2), name="dec")
    _, h, c = LSTM(6, return_state=True, name="encoder")(enc_in)
    y = LSTM(6, return_sequences=True, name="decoder")(dec_in, initial_state=[h, c])
    model = layerc.Model([enc_in, dec_in], y)
    oracle.randomize(model, rng)
    kenc, kdec = k.Input((5, 3)), k.Input((4, 2))
    _, kh, kc = k.layers.LSTM(6, return_state=True, name="encoder")(kenc)
    ky = k.layers.LSTM(6, return_sequences=True, name="decoder")(kdec, initial_state=[kh, kc])
    kmodel = k.Model([kenc, kdec], ky)
    oracle.check(model, kmodel, [data(rng, (3, 5, 3)), data(rng, (3, 4, 2))], atol=SHORT)
