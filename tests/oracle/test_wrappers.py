"""Bidirectional and TimeDistributed against Keras 3. Bidirectional:
hypothesis over the cell, every merge_mode, return_sequences and
return_state; a given backward_layer; a mask from an Embedding (and the
zeros a masked step's outputs with return_sequences); through
from_keras. TimeDistributed: a per-position layer (Dense) run once, a
convolution and a Flatten run per step, into an LSTM; through from_keras."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc import ConfigError
from layerc.ir import OpKind

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SWEEP = settings(max_examples=10, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


def keras_outputs(oracle, kmodel, x):
    out = kmodel(x, training=False)
    out = list(out) if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(oracle.keras.ops.convert_to_numpy(o)) for o in out]


def converted_matches(oracle, kmodel, x, atol=1e-5):
    """from_keras(kmodel) predicts what Keras does, output by output."""
    rng = np.random.default_rng(7)
    for w in kmodel.weights:
        w.assign(rng.uniform(-0.5, 0.5, w.shape).astype(np.float32))
    model = layerc.from_keras(kmodel)
    got = layerc.compile(model).predict(x)
    got = got if isinstance(got, list) else [got]
    want = keras_outputs(oracle, kmodel, x)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        oracle.assert_close(g, w, f"output {i}", atol, atol)
    return model


@SWEEP
@given(cell=st.sampled_from(["SimpleRNN", "GRU", "LSTM"]),
       merge_mode=st.sampled_from(["concat", "sum", "mul", "ave", None]),
       sequences=st.booleans(), state=st.booleans(), steps=st.integers(1, 5),
       batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_bidirectional_matches_keras(oracle, cell, merge_mode, sequences, state, steps, batch,
                                     seed):
    def build(ns):
        x = ns.Input((steps, 3))
        rnn = getattr(ns.layers, cell)(4, return_sequences=sequences, return_state=state)
        return ns.Model(x, ns.layers.Bidirectional(rnn, merge_mode=merge_mode, name="bi")(x))

    model, kmodel = build(layerc), build(oracle.keras)
    oracle.randomize(model, np.random.default_rng(seed))
    x = np.random.default_rng(seed).uniform(-1, 1, (batch, steps, 3)).astype(np.float32)
    oracle.check(model, kmodel, x, atol=1e-5, rtol=1e-5)


def test_bidirectional_weights_and_layers_are_keras_s(oracle):
    x = layerc.Input((4, 3))
    bi = layerc.layers.Bidirectional(layerc.layers.LSTM(2, name="lstm"), name="bi")
    layerc.Model(x, bi(x))
    assert (bi.forward_layer.name, bi.backward_layer.name) == ("forward_lstm", "backward_lstm")
    assert bi.backward_layer.go_backwards and not bi.forward_layer.go_backwards
    assert [w.shape for w in bi.get_weights()] == [(3, 8), (2, 8), (8,)] * 2
    kx = oracle.keras.Input((4, 3))
    kbi = oracle.layers.Bidirectional(oracle.layers.LSTM(2, name="lstm"), name="bi")
    kbi(kx)
    assert [w.shape for w in kbi.get_weights()] == [w.shape for w in bi.get_weights()]


def test_bidirectional_through_from_keras(oracle, rng):
    k = oracle.keras
    x = rng.uniform(-1, 1, (3, 6, 4)).astype(np.float32)
    i = k.Input((6, 4))
    gru = k.layers.GRU(5, return_state=True)
    out = k.layers.Bidirectional(gru, backward_layer=k.layers.GRU(5, return_state=True,
                                                                  go_backwards=True))(i)
    converted_matches(oracle, k.Model(i, out), x)
    seq = k.Sequential([k.Input((6, 4)),
                        k.layers.Bidirectional(k.layers.LSTM(3, return_sequences=True)),
                        k.layers.Bidirectional(k.layers.SimpleRNN(2), merge_mode="ave")])
    converted_matches(oracle, seq, x)


@pytest.mark.parametrize("sequences", [False, True])
def test_bidirectional_with_a_mask(oracle, rng, sequences):
    """The mask reaches both directions; with return_sequences the masked
    steps' outputs are zeros (Keras's zero_output_for_mask on both)."""
    k = oracle.keras
    tokens = rng.integers(1, 9, (4, 7))
    tokens[0, 3:] = 0
    tokens[1, :2] = 0
    tokens[2, 2:4] = 0
    head = [k.layers.GlobalAveragePooling1D()] if sequences else []
    kmodel = k.Sequential([k.Input((7,), dtype="int32"), k.layers.Embedding(9, 4, mask_zero=True),
                           k.layers.Bidirectional(k.layers.LSTM(3, return_sequences=sequences)),
                           *head, k.layers.Dense(2)])
    converted_matches(oracle, kmodel, tokens)
    if sequences:  # and the zeros themselves, before any pooling
        seq = k.Sequential([k.Input((7,), dtype="int32"), k.layers.Embedding(9, 4, mask_zero=True),
                            k.layers.Bidirectional(k.layers.GRU(3, return_sequences=True))])
        out = converted_matches(oracle, seq, tokens)
        assert out is not None


def test_bidirectional_refusals():
    with pytest.raises(ConfigError, match="wraps a recurrent layer"):
        layerc.layers.Bidirectional(layerc.layers.Dense(3))
    with pytest.raises(ConfigError, match="merge_mode must be one of"):
        layerc.layers.Bidirectional(layerc.layers.GRU(3), merge_mode="max")
    with pytest.raises(ConfigError, match="must differ in go_backwards"):
        layerc.layers.Bidirectional(layerc.layers.GRU(3), backward_layer=layerc.layers.GRU(3))


@SWEEP
@given(steps=st.integers(1, 4), units=st.integers(1, 4), batch=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_time_distributed_matches_keras(oracle, steps, units, batch, seed):
    def build(ns):
        return ns.Sequential([ns.Input((steps, 5, 5, 2)),
                              ns.layers.TimeDistributed(ns.layers.Conv2D(units, 3), name="c"),
                              ns.layers.TimeDistributed(ns.layers.Flatten(), name="f"),
                              ns.layers.TimeDistributed(ns.layers.Dense(3), name="d")])

    model, kmodel = build(layerc), build(oracle.keras)
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng)
    x = rng.uniform(-1, 1, (batch, steps, 5, 5, 2)).astype(np.float32)
    oracle.check(model, kmodel, x, atol=1e-5, rtol=1e-5)


def test_time_distributed_runs_per_position_layers_once(oracle, rng):
    """A Dense is one node over all steps; a convolution one per step."""
    model = layerc.Sequential([layerc.Input((6, 4)),
                               layerc.layers.TimeDistributed(layerc.layers.Dense(3))])
    assert [n.op for n in model.to_graph().nodes()].count(OpKind.DENSE) == 1
    conv = layerc.Sequential([layerc.Input((3, 4, 2)),
                              layerc.layers.TimeDistributed(layerc.layers.Conv1D(2, 2))])
    assert [n.op for n in conv.to_graph().nodes()].count(OpKind.CONV) == 3
    k = oracle.keras
    kmodel = k.Sequential([k.Input((3, 6, 6, 2)), k.layers.TimeDistributed(k.layers.Conv2D(3, 3)),
                           k.layers.TimeDistributed(k.layers.Flatten()), k.layers.LSTM(4)])
    converted_matches(oracle, kmodel, rng.uniform(-1, 1, (2, 3, 6, 6, 2)).astype(np.float32))


def test_time_distributed_needs_steps():
    with pytest.raises(layerc.ShapeError, match=r"td .*expected \(batch, steps, \.\.\.\), got"):
        layerc.Sequential([layerc.Input((4,)),
                           layerc.layers.TimeDistributed(layerc.layers.Dense(2), name="td")])


def test_time_distributed_passes_a_mask_on(oracle, rng):
    """Keras hands TimeDistributed the mask of a Masking before it; the
    wrapped Dense ignores it and the LSTM after it consumes it."""
    k = oracle.keras
    kmodel = k.Sequential([k.Input((6, 3)), k.layers.Masking(),
                           k.layers.LSTM(4, return_sequences=True),
                           k.layers.TimeDistributed(k.layers.Dense(2)), k.layers.GRU(3)])
    x = rng.uniform(-1, 1, (3, 6, 3)).astype(np.float32)
    x[0, 4:] = 0.0
    x[2, :2] = 0.0
    converted_matches(oracle, kmodel, x)
