"""Stateful recurrent layers against Keras 3.

A stateful layer keeps, per sample, its final states as the next call's
initial states; it needs a fixed batch size (batch_input_shape on the first
layer, or Input(batch_size=...)). Covered: chunk-by-chunk prediction against
Keras's stateful model (both layerc.compile(model) and model.predict),
reset_states on the model and on one layer half-way, one step at a time ==
one call on the whole sequence, states set numerically with
layer.reset_states([arrays]), the batch-size InputError and the missing
batch size ConfigError."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import layerc
from layerc import ConfigError, InputError, ShapeError
from layerc.layers import GRU, LSTM, Embedding, SimpleRNN

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ATOL = 1e-5
CELLS = ["simple_rnn", "gru", "lstm"]
LAYERC = {"simple_rnn": SimpleRNN, "gru": GRU, "lstm": LSTM}
KERAS = {"simple_rnn": "SimpleRNN", "gru": "GRU", "lstm": "LSTM"}
STATES = {"simple_rnn": 1, "gru": 1, "lstm": 2}
B, T, F, U = 3, 5, 4, 6


def data(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return rng.uniform(-scale, scale, shape).astype(np.float32)


def stateful_pair(oracle: Any, rng: np.random.Generator, cell: str, construction: str,
                  steps: int = T, **options: Any) -> tuple[Any, Any]:
    """A stateful layer 'rnn' with batch size B, in layerc (weights randomized)
    and Keras (weights copied)."""
    k = oracle.keras
    if construction == "sequential":
        model = layerc.Sequential([LAYERC[cell](U, stateful=True, name="rnn",
                                                batch_input_shape=(B, steps, F), **options)])
    else:
        x = layerc.Input((steps, F), batch_size=B, name="x")
        model = layerc.Model(x, LAYERC[cell](U, stateful=True, name="rnn", **options)(x))
    oracle.randomize(model, rng)
    kx = k.Input(batch_shape=(B, steps, F))
    kmodel = k.Model(kx, getattr(k.layers, KERAS[cell])(U, stateful=True, name="rnn",
                                                          **options)(kx))
    oracle.copy_weights(model, kmodel)
    return model, kmodel


def keras_run(oracle: Any, kmodel: Any, x: np.ndarray) -> np.ndarray:
    return oracle.run_keras(kmodel, [x])[0]


def interpret(model: Any, x: np.ndarray) -> np.ndarray:
    """The reference interpreter runs from zero states."""
    return layerc.ir.interpret(model.to_graph(), [x])[0]


# ----- chunk by chunk against Keras -----
@pytest.mark.parametrize("construction", ["sequential", "functional"])
@pytest.mark.parametrize("cell", CELLS)
def test_chunks_match_keras_with_a_model_reset_half_way(oracle, rng, cell, construction):
    return_sequences = construction == "functional"
    model, kmodel = stateful_pair(oracle, rng, cell, construction,
                                  return_sequences=return_sequences)
    compiled = layerc.compile(model)
    chunks = [data(rng, (B, T, F)) for _ in range(6)]
    for i, chunk in enumerate(chunks):
        if i == 3:
            model.reset_states()
            kmodel.get_layer("rnn").reset_states()
        want = keras_run(oracle, kmodel, chunk)
        oracle.assert_close(compiled.predict(chunk), want, f"compile() chunk {i}", ATOL)
        oracle.assert_close(model.predict(chunk), want, f"model.predict chunk {i}", ATOL)
        if i in (0, 3):  # from zero states
            oracle.assert_close(interpret(model, chunk), want, f"interpret chunk {i}", ATOL)
    # The states carried: a fresh start on the last chunk gives other numbers.
    assert np.abs(interpret(model, chunks[-1]) - want).max() > 1e-3


@pytest.mark.parametrize("cell", CELLS)
def test_go_backwards_stateful_chunks_match_keras(oracle, rng, cell):
    model, kmodel = stateful_pair(oracle, rng, cell, "functional", go_backwards=True,
                                  return_sequences=True)
    for i in range(3):
        chunk = data(rng, (B, T, F))
        oracle.assert_close(model.predict(chunk), keras_run(oracle, kmodel, chunk),
                            f"chunk {i}", ATOL)


def test_reset_states_on_one_layer_only(oracle, rng):
    """Two stateful layers; resetting the second one half-way keeps the
    first's states, as in Keras."""
    k = oracle.keras
    model = layerc.Sequential([
        LSTM(U, stateful=True, return_sequences=True, batch_input_shape=(B, T, F), name="l1"),
        GRU(4, stateful=True, return_sequences=True, name="g2")])
    oracle.randomize(model, rng)
    kmodel = k.Sequential([k.Input(batch_shape=(B, T, F)),
                           k.layers.LSTM(U, stateful=True, return_sequences=True, name="l1"),
                           k.layers.GRU(4, stateful=True, return_sequences=True, name="g2")])
    oracle.copy_weights(model, kmodel)
    compiled = layerc.compile(model)
    for i in range(5):
        if i == 2:
            model.get_layer("g2").reset_states()
            kmodel.get_layer("g2").reset_states()
            for runtime in (compiled, model.compiled()):
                np.testing.assert_array_equal(runtime.layer_states("g2")[0], 0.0)
                assert np.abs(runtime.layer_states("l1")[0]).max() > 0
        chunk = data(rng, (B, T, F))
        want = keras_run(oracle, kmodel, chunk)
        oracle.assert_close(compiled.predict(chunk), want, f"compile() chunk {i}", ATOL)
        oracle.assert_close(model.predict(chunk), want, f"model.predict chunk {i}", ATOL)


def test_compiled_model_reset_states_zeros_every_layer(oracle, rng):
    model, _ = stateful_pair(oracle, rng, "lstm", "functional")
    compiled = layerc.compile(model)
    chunk = data(rng, (B, T, F))
    first = compiled.predict(chunk)
    h, c = compiled.layer_states("rnn")
    assert h.shape == c.shape == (B, U) and np.abs(c).max() > 0
    assert np.abs(compiled.predict(chunk) - first).max() > 1e-4
    compiled.reset_states()
    assert all((s == 0).all() for s in compiled.layer_states("rnn"))
    np.testing.assert_array_equal(compiled.predict(chunk), first)


def test_model_reset_states_skips_non_stateful_recurrent_layers(oracle, rng):
    """model.reset_states() resets the stateful layers; a non-stateful LSTM
    after a stateful GRU is no reason to fail (Keras resets only layers with
    stateful=True)."""
    model = layerc.Sequential([
        GRU(U, stateful=True, return_sequences=True, batch_input_shape=(B, T, F), name="g"),
        LSTM(4, name="plain")])
    oracle.randomize(model, rng)
    chunk = data(rng, (B, T, F))
    first = model.predict(chunk)
    assert np.abs(model.predict(chunk) - first).max() > 1e-4
    model.reset_states()
    np.testing.assert_allclose(model.predict(chunk), first, atol=1e-6)


# ----- one step at a time == the whole sequence at once -----
@pytest.mark.parametrize("cell", CELLS)
def test_one_step_at_a_time_equals_the_whole_sequence(oracle, rng, cell):
    steps = 12
    stepper, kstepper = stateful_pair(oracle, rng, cell, "sequential", steps=1)
    whole = layerc.Sequential([LAYERC[cell](U, return_sequences=True, input_shape=(steps, F),
                                            name="rnn")])
    whole.set_weights(stepper.get_weights())
    x = data(rng, (B, steps, F))
    at_once = whole.predict(x)
    oracle.assert_close(interpret(whole, x), at_once, "interpret of the whole sequence", 1e-5)
    for t in range(steps):
        part = np.ascontiguousarray(x[:, t:t + 1])
        got = stepper.predict(part)
        oracle.assert_close(got, at_once[:, t], f"step {t}", 1e-5)
        oracle.assert_close(got, keras_run(oracle, kstepper, part), f"Keras step {t}", ATOL)


# ----- states set numerically -----
@pytest.mark.parametrize("cell", CELLS)
def test_layer_reset_states_with_arrays_sets_the_states(oracle, rng, cell):
    model, kmodel = stateful_pair(oracle, rng, cell, "functional", return_sequences=True)
    layer, klayer = model.get_layer("rnn"), kmodel.get_layer("rnn")
    compiled = layerc.compile(model)
    chunk = data(rng, (B, T, F))
    compiled.predict(chunk)  # states are now non-zero
    values = [data(rng, (B, U)) for _ in range(STATES[cell])]
    layer.reset_states(values)
    for got, want in zip(compiled.layer_states("rnn"), values):
        np.testing.assert_array_equal(got, want)
    for variable, value in zip(klayer.states, values):
        variable.assign(value)
    oracle.assert_close(compiled.predict(chunk), keras_run(oracle, kmodel, chunk),
                        "output after setting the states", ATOL)
    # The same numbers as a non-stateful twin given the states as initial_state.
    x = layerc.Input((T, F))
    inits = [layerc.Input((U,)) for _ in values]
    twin_layer = LAYERC[cell](U, return_sequences=True)
    twin = layerc.Model([x, *inits], twin_layer(x, initial_state=inits))
    twin_layer.set_weights(layer.get_weights())
    layer.reset_states(values)
    np.testing.assert_allclose(compiled.predict(chunk), twin.predict([chunk, *values]),
                               atol=1e-6)
    # reset_states() with no arguments zeros them again.
    layer.reset_states()
    assert all((s == 0).all() for s in compiled.layer_states("rnn"))


def test_wrong_state_arrays_are_refused_and_change_nothing(oracle, rng):
    model, _ = stateful_pair(oracle, rng, "lstm", "sequential")
    compiled = layerc.compile(model)
    compiled.predict(data(rng, (B, T, F)))
    before = compiled.layer_states("rnn")
    layer = model.get_layer("rnn")
    for bad in ([np.zeros((B, U), np.float32)],  # one array for two states
                [np.zeros((B + 1, U), np.float32)] * 2,  # the wrong batch
                [np.zeros((B, U + 1), np.float32)] * 2):  # the wrong units
        with pytest.raises(ShapeError, match=rf"\({B}, {U}\)"):
            layer.reset_states(bad)
        for got, want in zip(compiled.layer_states("rnn"), before):
            np.testing.assert_array_equal(got, want)


def test_states_set_before_the_first_predict_are_used(oracle, rng):
    """A built stateful model whose layer states are set numerically before
    anything ran starts from those states (Keras 2's layer.reset_states(states)
    assigns the state variables the next call reads)."""
    model, kmodel = stateful_pair(oracle, rng, "gru", "sequential")
    values = [data(rng, (B, U))]
    model.get_layer("rnn").reset_states(values)
    kmodel.get_layer("rnn").states[0].assign(values[0])
    chunk = data(rng, (B, T, F))
    oracle.assert_close(model.predict(chunk), keras_run(oracle, kmodel, chunk),
                        "first output after setting the states", ATOL)


def test_set_weights_keeps_the_states(oracle, rng):
    """Loading weights into a stateful model does not touch its states, as in
    Keras: the next chunk still continues from the last one."""
    model, kmodel = stateful_pair(oracle, rng, "lstm", "sequential")
    first, second = data(rng, (B, T, F)), data(rng, (B, T, F))
    model.predict(first)
    keras_run(oracle, kmodel, first)
    model.set_weights(model.get_weights())
    oracle.assert_close(model.predict(second), keras_run(oracle, kmodel, second),
                        "the chunk after set_weights", ATOL)


# ----- masks on a stateful layer -----
def test_stateful_lstm_behind_a_masking_embedding(oracle, rng):
    k = oracle.keras
    model = layerc.Sequential([
        Embedding(9, 3, mask_zero=True, batch_input_shape=(B, T), name="emb"),
        LSTM(U, stateful=True, return_sequences=True, name="rnn")])
    oracle.randomize(model, rng)
    kmodel = k.Sequential([k.Input(batch_shape=(B, T), dtype="int32"),
                           k.layers.Embedding(9, 3, mask_zero=True, name="emb"),
                           k.layers.LSTM(U, stateful=True, return_sequences=True, name="rnn")])
    oracle.copy_weights(model, kmodel)
    for i in range(3):
        x = rng.integers(1, 9, (B, T)) * (rng.random((B, T)) < 0.6)
        x[0] = 0  # a fully masked row keeps its states for the next chunk
        oracle.assert_close(model.predict(x), oracle.run_keras(kmodel, [x])[0], f"chunk {i}",
                            ATOL)


# ----- the fixed batch size -----
@pytest.mark.parametrize("construction", ["sequential", "functional"])
def test_a_batch_of_another_size_is_an_input_error_naming_the_size(oracle, rng, construction):
    model, _ = stateful_pair(oracle, rng, "gru", construction)
    compiled = layerc.compile(model)
    before = compiled.predict(data(rng, (B, T, F)))
    states = compiled.layer_states("rnn")
    for batch in (1, B - 1, B + 1, 2 * B + 1):
        for run in (compiled.predict, model.predict):
            with pytest.raises(InputError, match=rf"\b{B}\b"):
                run(data(rng, (batch, T, F)))
    with pytest.raises(InputError, match=rf"\b{B}\b"):
        compiled.predict(data(rng, (2 * B, T, F)), batch_size=2)
    for got, want in zip(compiled.layer_states("rnn"), states):
        np.testing.assert_array_equal(got, want)  # the refused calls changed nothing
    assert before.shape == (B, U)


def test_a_multiple_of_the_batch_size_runs_the_chunks_in_order(oracle, rng):
    """CompiledModel's documented extension: 2B samples run as two batches of
    B, the second continuing from the first."""
    model, _ = stateful_pair(oracle, rng, "lstm", "functional")
    a, b = layerc.compile(model), layerc.compile(model)
    x = data(rng, (2 * B, T, F))
    together = a.predict(x)
    apart = np.concatenate([b.predict(x[:B]), b.predict(x[B:])])
    np.testing.assert_array_equal(together, apart)


@pytest.mark.parametrize("construction", ["sequential", "functional"])
def test_a_missing_batch_size_is_a_config_error_naming_the_layer(construction):
    if construction == "sequential":
        model = layerc.Sequential([LSTM(4, stateful=True, input_shape=(T, F),
                                        name="my_stateful_lstm")])
    else:
        x = layerc.Input((T, F))
        model = layerc.Model(x, LSTM(4, stateful=True, name="my_stateful_lstm")(x))
    with pytest.raises(ConfigError, match="my_stateful_lstm"):
        layerc.compile(model)
    with pytest.raises(ConfigError, match="my_stateful_lstm.*batch"):
        model.predict(np.zeros((2, T, F), np.float32))
