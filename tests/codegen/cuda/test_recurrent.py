"""The CUDA sequence kernel against the reference interpreter: SimpleRNN, GRU
(both reset_after modes) and LSTM with masks, go_backwards, return_sequences,
return_state, initial states; stateful models against the CPU backend (which
tests/oracle/test_stateful.py checks against Keras) over call sequences with
reset_states and states set by hand."""

import numpy as np
import pytest

import layerc
from layerc.layers import GRU, LSTM, Dense, Embedding, Input, SimpleRNN
from layerc.models import Model, Sequential

ATOL = 1e-5
CELLS = {"simple_rnn": (SimpleRNN, {}), "gru": (GRU, {}),
         "gru_reset_before": (GRU, {"reset_after": False}), "lstm": (LSTM, {})}


def _layer(cell, units, **options):
    cls, extra = CELLS[cell]
    return cls(units, **extra, **options)


def _ids(rng, batch, steps, vocabulary):
    ids = rng.integers(1, vocabulary, (batch, steps))
    ids[0, :2] = 0  # a masked start: the output is zeros until the first real step
    ids[1, 3] = 0  # a masked step in the middle keeps the state
    if batch > 2:
        ids[2, -2:] = 0  # a masked end repeats the last output
    return ids.astype(np.float32)


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("sequences,backwards", [(False, False), (True, False), (True, True),
                                                 (False, True)])
def test_cells_with_masks(like_reference, cell, sequences, backwards):
    ids = Input((6,), dtype="int32")
    x = Embedding(5, 3, mask_zero=True)(ids)
    y = _layer(cell, 4, return_sequences=sequences, go_backwards=backwards)(x)
    model = Model(ids, y)
    like_reference(model, _ids(np.random.default_rng(1), 3, 6, 5), atol=ATOL, both=False)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_cells_without_masks_and_biases(like_reference, cell):
    model = Sequential([Input((5, 3)), _layer(cell, 3, use_bias=False, return_sequences=True),
                        Dense(2)])
    like_reference(model, atol=ATOL)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_return_state_and_initial_states(like_reference, cell):
    """Initial states come from the arena; the final states are extra outputs."""
    count = 2 if cell == "lstm" else 1
    x = Input((4, 2))
    states = [Input((3,)) for _ in range(count)]
    outs = _layer(cell, 3, return_state=True, return_sequences=True)(x, initial_state=states)
    model = Model([x, *states], list(outs))
    rng = np.random.default_rng(2)
    inputs = [rng.uniform(-1, 1, (2, 4, 2)).astype(np.float32)] + \
        [rng.uniform(-1, 1, (2, 3)).astype(np.float32) for _ in range(count)]
    like_reference(model, inputs, atol=ATOL)


@pytest.mark.parametrize("cell", ["simple_rnn", "gru", "gru_reset_before", "lstm"])
def test_softmax_and_odd_activations_work_gate_by_gate(like_reference, cell):
    """softmax normalizes within one gate block, across the units: the kernel
    reads the whole finished block."""
    options = {"activation": "softmax"}
    if cell != "simple_rnn":
        options["recurrent_activation"] = "hard_sigmoid"
    model = Sequential([Input((3, 2)), _layer(cell, 3, **options)])
    like_reference(model, atol=ATOL, both=False)


def test_more_units_than_threads_per_block(like_reference, monkeypatch):
    """Threads stride over units when a block has fewer threads than units."""
    from layerc.codegen.cuda import launch

    monkeypatch.setattr(launch, "RNN_THREADS", 2)
    model = Sequential([Input((3, 2)), LSTM(5, return_sequences=True)])
    like_reference(model, atol=ATOL, both=False)


# ----- stateful models -----
B, T, F, U = 2, 3, 2, 3


def _stateful(cell, **options):
    model = Sequential([_layer(cell, U, stateful=True, name="rnn", batch_input_shape=(B, T, F),
                               **options)])
    rng = np.random.default_rng(5)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_stateful_calls_match_the_cpu(cell):
    model = _stateful(cell, return_sequences=cell == "lstm")
    cpu, gpu = layerc.compile(model), layerc.compile(model, target="cuda")
    rng = np.random.default_rng(6)
    chunks = [rng.uniform(-1, 1, (B, T, F)).astype(np.float32) for _ in range(3)]
    for i, x in enumerate(chunks):
        np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), atol=ATOL,
                                   err_msg=f"call {i}")
    for got, want in zip(gpu.layer_states("rnn"), cpu.layer_states("rnn")):
        np.testing.assert_allclose(got, want, atol=ATOL)
    gpu.reset_states()
    cpu.reset_states()
    assert all((s == 0).all() for s in gpu.layer_states("rnn"))
    np.testing.assert_allclose(gpu.predict(chunks[0]), cpu.predict(chunks[0]), atol=ATOL)
    # Two chunks in one call run in order, continuing the states.
    both = np.concatenate(chunks[1:])
    np.testing.assert_allclose(gpu.predict(both), cpu.predict(both), atol=ATOL)


def test_stateful_states_set_by_hand_and_adopted():
    model = _stateful("lstm")
    cpu, gpu = layerc.compile(model), layerc.compile(model, target="cuda")
    rng = np.random.default_rng(7)
    values = [rng.uniform(-1, 1, (B, U)).astype(np.float32) for _ in range(2)]
    model.get_layer("rnn").reset_states(values)  # reaches both compiled models
    for got, want in zip(gpu.layer_states("rnn"), values):
        np.testing.assert_array_equal(got, want)
    x = rng.uniform(-1, 1, (B, T, F)).astype(np.float32)
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), atol=ATOL)
    again = layerc.compile(model, target="cuda")
    again.adopt_states(gpu)  # device to device, through the host
    for got, want in zip(again.layer_states("rnn"), cpu.layer_states("rnn")):
        np.testing.assert_allclose(got, want, atol=ATOL)
    gpu.set_layer_states("rnn")  # zeros
    assert all((s == 0).all() for s in gpu.layer_states("rnn"))
    with pytest.raises(layerc.ShapeError):
        gpu.set_layer_states("rnn", [values[0]])


def test_stateful_batch_size_is_enforced():
    gpu = layerc.compile(_stateful("gru"), target="cuda")
    with pytest.raises(layerc.InputError):
        gpu.predict(np.zeros((B + 1, T, F), np.float32))


def test_zero_output_for_mask(like_reference):
    model = Sequential([Input((5,), dtype="int32"), Embedding(7, 3, mask_zero=True),
                        LSTM(2, return_sequences=True, zero_output_for_mask=True)])
    like_reference(model, np.array([[1, 2, 0, 0, 3], [0, 4, 5, 6, 0]]), both=False)


def test_conv_lstm_unrolls_into_ops_cuda_runs(like_reference):
    """ConvLSTM2D is its steps' convolutions, crops, activations and merges."""
    model = layerc.Sequential([layerc.layers.Input((2, 4, 4, 2)), layerc.layers.ConvLSTM2D(
        3, 3, padding="same", return_sequences=True, go_backwards=True)])
    like_reference(model)
