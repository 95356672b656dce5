"""Masks against Keras 3: Embedding(mask_zero=True) and Masking make a
(batch, time) mask that Dropout, Activation and Dense pass on and that
SimpleRNN, GRU, LSTM and GlobalAveragePooling1D consume. Masked steps carry the recurrent state
and repeat the previous output (zeros before the first unmasked step).

Covered: pre-padded, post-padded, holes in the middle, fully masked rows,
hypothesis-drawn patterns, return_sequences, go_backwards, return_state, the
mask ending after a return_sequences=False layer and flowing through a
return_sequences=True layer into a second one, and masked average pooling."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.layers import (
    GRU,
    LSTM,
    Activation,
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling1D,
    Reshape,
    SimpleRNN,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SWEEP = settings(max_examples=15, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

ATOL = 1e-5
VOCAB = 12
CELLS = ["simple_rnn", "gru", "lstm"]
LAYERC = {"simple_rnn": SimpleRNN, "gru": GRU, "lstm": LSTM}
KERAS = {"simple_rnn": "SimpleRNN", "gru": "GRU", "lstm": "LSTM"}

# One batch holding every kind of pattern: 1 = a real token, 0 = padding.
PATTERNS = np.array([
    [1, 1, 1, 1, 1, 1, 1, 1],  # no padding
    [0, 0, 0, 1, 1, 1, 1, 1],  # pre-padded
    [1, 1, 1, 1, 1, 0, 0, 0],  # post-padded
    [1, 0, 1, 1, 0, 0, 1, 1],  # holes in the middle
    [0, 0, 0, 0, 0, 0, 0, 0],  # fully masked
    [0, 1, 0, 0, 0, 0, 1, 0],  # sparse, masked at both ends
])


def tokens(rng: np.random.Generator, pattern: np.ndarray) -> np.ndarray:
    """Indices in [1, VOCAB) where the pattern is 1, else 0 (padding)."""
    return (rng.integers(1, VOCAB, pattern.shape) * pattern).astype(np.int64)


def rnn(keras_side: Any, cell: str, units: int, **options: Any) -> Any:
    return getattr(keras_side.layers, KERAS[cell])(units, **options) if keras_side \
        else LAYERC[cell](units, **options)


def check(oracle: Any, model: Any, kmodel: Any, rng: np.random.Generator, x: np.ndarray,
          scale: float = 0.5) -> Any:
    """Randomizes the layerc weights, copies them, and compares on the integer
    indices x (layerc also on x as float indices, as Keras accepts both)."""
    oracle.randomize(model, rng, scale)
    oracle.copy_weights(model, kmodel)
    keras_out = oracle.run_keras(kmodel, [x])
    reference = layerc.ir.interpret(model.to_graph(), [x])
    compiled = layerc.compile(model)
    for name, outs in (("interpret", reference), ("compiled", compiled.predict(x)),
                       ("compiled float", compiled.predict(x.astype(np.float32)))):
        outs = outs if isinstance(outs, list) else [outs]
        assert len(outs) == len(keras_out), f"{name}: {len(outs)} outputs, Keras {len(keras_out)}"
        for i, (mine, theirs) in enumerate(zip(outs, keras_out)):
            oracle.assert_close(np.asarray(mine), theirs, f"{name} output {i}", ATOL)
    return keras_out


def masked_pair(oracle: Any, steps: int, middle: Any, tail: Any) -> tuple[Any, Any]:
    """Input (steps,) int -> Embedding(mask_zero) -> middle layers -> tail layers.
    `middle` and `tail` are functions of a layer namespace (layerc or Keras)
    returning a list of layers; names must match across the two."""
    k = oracle.keras
    x = layerc.Input((steps,), dtype="int32", name="tokens")
    y = Embedding(VOCAB, 4, mask_zero=True, name="emb")(x)
    for layer in middle(None) + tail(None):
        y = layer(y)
    model = layerc.Model(x, y)
    kx = k.Input((steps,), dtype="int32")
    ky = k.layers.Embedding(VOCAB, 4, mask_zero=True, name="emb")(kx)
    for layer in middle(k) + tail(k):
        ky = layer(ky)
    return model, k.Model(kx, ky)


def no_middle(_: Any) -> list:
    return []


# ----- the harness itself -----
def test_masks_change_the_numbers(oracle, rng):
    """Guard: the same model without mask_zero gives other numbers on padded
    rows, so a layerc that ignored masks would fail the tests below."""
    model, kmodel = masked_pair(oracle, 8, no_middle,
                                lambda k: [rnn(k, "lstm", 5, name="rnn")])
    x = tokens(rng, PATTERNS)
    masked = check(oracle, model, kmodel, rng, x)[0]
    plain = layerc.Sequential([Embedding(VOCAB, 4, input_length=8, name="emb"),
                               LSTM(5, name="rnn")])
    plain.set_weights(model.get_weights())
    unmasked = plain.predict(x)
    assert np.abs(unmasked[0] - masked[0]).max() < 1e-5  # row 0 has no padding
    assert np.abs(unmasked[1:] - masked[1:]).max(axis=1).min() > 1e-4
    np.testing.assert_array_equal(masked[4], 0.0)  # fully masked row: zero output


# ----- every cell over every pattern -----
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("cell", CELLS)
def test_padding_patterns_match_keras(oracle, rng, cell, return_sequences, go_backwards):
    model, kmodel = masked_pair(oracle, 8, no_middle, lambda k: [
        rnn(k, cell, 5, name="rnn", return_sequences=return_sequences,
            go_backwards=go_backwards)])
    out = check(oracle, model, kmodel, rng, tokens(rng, PATTERNS))[0]
    if return_sequences and not go_backwards:
        # masked steps repeat the previous output; zeros before the first real step
        np.testing.assert_array_equal(out[1, :3], 0.0)
        np.testing.assert_array_equal(out[2, 5:], np.repeat(out[2, 4:5], 3, axis=0))


@pytest.mark.parametrize("cell", CELLS)
def test_return_state_carries_through_masked_steps(oracle, rng, cell):
    model, kmodel = masked_pair(oracle, 8, no_middle, lambda k: [
        rnn(k, cell, 4, name="rnn", return_sequences=True, return_state=True)])
    out = check(oracle, model, kmodel, rng, tokens(rng, PATTERNS))
    h = out[1]
    np.testing.assert_array_equal(h[4], 0.0)  # fully masked: the initial (zero) state
    np.testing.assert_allclose(h[2], out[0][2, 4], atol=1e-6)  # post-padded: last real step


# ----- layers between the Embedding and the RNN pass the mask -----
MIDDLES = {
    "dropout": lambda k: [(k.layers.Dropout if k else Dropout)(0.3, name="drop")],
    "activation": lambda k: [(k.layers.Activation if k else Activation)("tanh", name="act")],
    "dense": lambda k: [(k.layers.Dense if k else Dense)(6, name="dense")],
    "dense_relu_then_dropout_activation": lambda k: [
        (k.layers.Dense if k else Dense)(6, activation="relu", name="dense"),
        (k.layers.Dropout if k else Dropout)(0.5, name="drop"),
        (k.layers.Activation if k else Activation)("sigmoid", name="act")],
}


@pytest.mark.parametrize("middle", sorted(MIDDLES))
@pytest.mark.parametrize("cell", CELLS)
def test_mask_passes_through_dropout_activation_dense(oracle, rng, cell, middle):
    model, kmodel = masked_pair(oracle, 8, MIDDLES[middle], lambda k: [
        rnn(k, cell, 5, name="rnn", return_sequences=True)])
    check(oracle, model, kmodel, rng, tokens(rng, PATTERNS))
    recurrent = [n for n in model.to_graph().nodes() if n.op is layerc.ir.OpKind.RECURRENT]
    assert [n.attrs.has_mask for n in recurrent] == [True]


# ----- hypothesis-drawn mask patterns -----
@SWEEP
@given(data=st.data(), cell=st.sampled_from(CELLS), steps=st.integers(1, 30),
       batch=st.integers(1, 4), return_sequences=st.booleans(), go_backwards=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_drawn_mask_patterns(oracle, data, cell, steps, batch, return_sequences, go_backwards,
                             seed):
    rng = np.random.default_rng(seed)
    bits = data.draw(st.lists(st.lists(st.booleans(), min_size=steps, max_size=steps),
                              min_size=batch, max_size=batch))
    model, kmodel = masked_pair(oracle, steps, no_middle, lambda k: [
        rnn(k, cell, 3, name="rnn", return_sequences=return_sequences,
            go_backwards=go_backwards)])
    check(oracle, model, kmodel, rng, tokens(rng, np.array(bits, dtype=np.int64)))


# ----- where the mask ends and where it flows on -----
@pytest.mark.parametrize("cell", CELLS)
def test_mask_ends_after_return_sequences_false(oracle, rng, cell):
    """A return_sequences=False layer consumes the mask: what follows it (here
    Dense -> Reshape -> a second RNN) runs unmasked, in Keras and in layerc."""
    x = layerc.Input((8,), dtype="int32")
    e = Embedding(VOCAB, 4, mask_zero=True)(x)
    assert e.mask is not None
    last = rnn(None, cell, 5, name="rnn")(e)
    assert last.mask is None
    seq, *states = rnn(None, cell, 5, return_sequences=True, return_state=True)(e)
    assert seq.mask is not None and all(s.mask is None for s in states)
    assert Dense(3)(last).mask is None

    model, kmodel = masked_pair(oracle, 8, no_middle, lambda k: [
        rnn(k, cell, 5, name="rnn"),
        (k.layers.Dense if k else Dense)(8, name="dense"),
        (k.layers.Reshape if k else Reshape)((4, 2), name="reshape"),
        rnn(k, "gru", 3, name="rnn2", return_sequences=True)])
    check(oracle, model, kmodel, rng, tokens(rng, PATTERNS))
    recurrent = [n for n in model.to_graph().nodes() if n.op is layerc.ir.OpKind.RECURRENT]
    assert [n.attrs.has_mask for n in recurrent] == [True, False]


@pytest.mark.parametrize("first_backwards", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("second", CELLS)
def test_mask_flows_through_return_sequences_into_a_second_rnn(oracle, rng, second,
                                                               first_backwards):
    """The second layer sees the Embedding's mask. With go_backwards on the
    first, Keras hands on the mask as it was (not reversed) next to outputs in
    processing order; layerc must do the same."""
    model, kmodel = masked_pair(oracle, 8, no_middle, lambda k: [
        rnn(k, "lstm", 5, name="rnn1", return_sequences=True, go_backwards=first_backwards),
        rnn(k, second, 4, name="rnn2", return_sequences=True)])
    check(oracle, model, kmodel, rng, tokens(rng, PATTERNS))
    recurrent = [n for n in model.to_graph().nodes() if n.op is layerc.ir.OpKind.RECURRENT]
    assert [n.attrs.has_mask for n in recurrent] == [True, True]


def test_three_masked_layers_then_a_dense_head(oracle, rng):
    model, kmodel = masked_pair(oracle, 10, MIDDLES["dense"], lambda k: [
        rnn(k, "gru", 6, name="rnn1", return_sequences=True, reset_after=False),
        rnn(k, "simple_rnn", 5, name="rnn2", return_sequences=True, go_backwards=True),
        rnn(k, "lstm", 4, name="rnn3"),
        (k.layers.Dense if k else Dense)(2, activation="softmax", name="head")])
    pattern = np.concatenate([PATTERNS, PATTERNS[:, :2]], axis=1)
    check(oracle, model, kmodel, rng, tokens(rng, pattern))


# ----- GlobalAveragePooling1D averages only the unmasked steps -----
def _gap(k: Any) -> Any:
    return (k.layers.GlobalAveragePooling1D if k else GlobalAveragePooling1D)(name="gap")


@pytest.mark.parametrize("before", ["none", "dense", "rnn"])
def test_global_average_pooling_over_unmasked_steps(oracle, rng, before):
    tails = {"none": lambda k: [_gap(k)],
             "dense": lambda k: [(k.layers.Dense if k else Dense)(3, name="dense"), _gap(k)],
             "rnn": lambda k: [rnn(k, "gru", 3, name="rnn", return_sequences=True), _gap(k)]}
    model, kmodel = masked_pair(oracle, 8, no_middle, tails[before])
    pattern = PATTERNS[[0, 1, 2, 3, 5]]  # no fully masked row (see the next test)
    x = tokens(rng, pattern)
    out = check(oracle, model, kmodel, rng, x)[0]
    if before == "none":  # by hand: the mean of the embeddings of the real tokens
        table = model.get_layer("emb").get_weights()[0]
        want = np.stack([table[row[row > 0]].mean(axis=0) for row in x])
        np.testing.assert_allclose(out, want, atol=1e-6)


def test_global_average_pooling_of_a_fully_masked_row_is_nan_like_keras(oracle, rng):
    """Keras divides by the number of unmasked steps, 0 here: NaN. Other rows
    stay finite and match."""
    model, kmodel = masked_pair(oracle, 8, no_middle, lambda k: [_gap(k)])
    oracle.randomize(model, rng)
    oracle.copy_weights(model, kmodel)
    x = tokens(rng, PATTERNS)
    want = oracle.run_keras(kmodel, [x])[0]
    with np.errstate(invalid="ignore"):
        outs = [layerc.ir.interpret(model.to_graph(), [x])[0], layerc.compile(model).predict(x)]
    for got in outs:
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        assert np.isnan(got[4]).all() and np.isfinite(np.delete(got, 4, axis=0)).all()
        np.testing.assert_allclose(np.delete(got, 4, axis=0), np.delete(want, 4, axis=0),
                                   atol=ATOL)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1,
                        max_size=3),
       value=st.sampled_from([0.0, -1.0, 2.5]), cell=st.sampled_from(["SimpleRNN", "GRU",
                                                                        "LSTM"]),
       seed=st.integers(0, 2**32 - 1))
def test_masking_layer_masks_the_recurrent_layer(oracle, pattern, value, cell, seed):
    """Steps whose features all equal mask_value are zeroed and skipped, in
    layerc as built and as converted from Keras."""
    def layers(L):
        return [L.Masking(mask_value=value, name="m"), getattr(L, cell)(3, name="rnn")]

    model = layerc.Sequential([layerc.Input((6, 2)), *layers(layerc.layers)])
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng)
    kmodel = oracle.keras.Sequential([oracle.keras.Input((6, 2)), *layers(oracle.layers)])
    x = rng.uniform(-2, 2, (len(pattern), 6, 2)).astype(np.float32)
    x[np.array(pattern)] = value
    x[0, 0, 0] = value  # one feature at the mask value does not mask the step
    oracle.check(model, kmodel, x, atol=1e-5, rtol=1e-5)
    oracle.assert_close(layerc.compile(layerc.from_keras(kmodel)).predict(x),
                        oracle.run_keras(kmodel, [x])[0], "from_keras", 1e-5, 1e-5)


def test_masking_output_zeroes_masked_steps(oracle, rng):
    model = layerc.Sequential([layerc.Input((4, 3)), layerc.layers.Masking(name="m")])
    kmodel = oracle.keras.Sequential([oracle.keras.Input((4, 3)),
                                      oracle.layers.Masking(name="m")])
    x = rng.uniform(-1, 1, (2, 4, 3)).astype(np.float32)
    x[0, 1] = 0.0
    x[1, 2, 1] = 0.0
    out = oracle.check(model, kmodel, x)
    assert out.compiled[0][1, 2, 1] == 0.0 and (out.compiled[0][1, 2] != 0).sum() == 2


def test_masking_needs_a_sequence_of_feature_vectors():
    with pytest.raises(layerc.ShapeError, match=r"m .*\(batch, steps, features\)"):
        layerc.Sequential([layerc.Input((4,)), layerc.layers.Masking(name="m")])


@pytest.mark.parametrize("cell", ["SimpleRNN", "GRU", "LSTM"])
@pytest.mark.parametrize("backwards", [False, True])
def test_zero_output_for_mask(oracle, cell, backwards):
    """Masked steps' outputs are zeros (in processing order), states carried."""
    def layers(L):
        return [L.Embedding(9, 3, mask_zero=True, name="emb"),
                getattr(L, cell)(4, return_sequences=True, zero_output_for_mask=True,
                                 go_backwards=backwards, name="rnn")]

    model = layerc.Sequential([layerc.Input((6,), dtype="int32"), *layers(layerc.layers)])
    oracle.randomize(model, np.random.default_rng(3))
    kmodel = oracle.keras.Sequential([oracle.keras.Input((6,), dtype="int32"),
                                      *layers(oracle.layers)])
    tokens = np.random.default_rng(4).integers(1, 9, (3, 6))
    tokens[0, 4:] = 0
    tokens[1, 1:3] = 0
    out = oracle.check(model, kmodel, tokens, atol=1e-5, rtol=1e-5)
    assert (out.compiled[0] == 0).all(axis=-1).sum() >= 4  # the masked steps are zeros
