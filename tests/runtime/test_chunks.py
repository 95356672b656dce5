"""The arena cap (runtime/chunks.py): where it comes from, the chunks it gives,
and that chunked predicts equal unchunked ones bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layerc
from layerc import ConfigError, InputError
from layerc.layers import (GRU, LSTM, Concatenate, Conv2D, Dense, Flatten, Input,
                           MaxPooling2D)
from layerc.runtime import chunks

STREAMS = 3  # the stateful model's fixed batch


def _mlp():
    return layerc.Sequential([Dense(37, activation="relu", input_shape=(19,)),
                              Dense(5, activation="softmax")], name="mlp")


def _convnet():
    """A conv/pool pair (fused on the CPU) and a 32-channel 3x3 (Winograd)."""
    return layerc.Sequential([
        Conv2D(8, 3, activation="relu", input_shape=(12, 12, 3)), MaxPooling2D(2),
        Conv2D(32, 3, padding="same", activation="relu"),
        Conv2D(32, 3, padding="same", activation="tanh"), Flatten(), Dense(4)], name="conv")


def _recurrent():
    return layerc.Sequential([LSTM(16, return_sequences=True, input_shape=(7, 5)), GRU(8),
                              Dense(3)], name="rnn")


def _two_in_two_out():
    a = Input((4,), name="a")
    b = Input((2, 3), name="b")
    y = Concatenate(name="cat")([Dense(3, name="da")(a), Dense(3, name="db")(Flatten()(b))])
    return layerc.Model([a, b], [y, Dense(1, name="head")(y)], name="two")


def _stateful():
    return layerc.Sequential([
        Input((4, 5), batch_size=STREAMS),
        GRU(6, stateful=True, return_sequences=True, name="gru"), Dense(2)], name="streams")


@pytest.fixture(scope="module")
def models():
    layerc.utils.set_random_seed(0)
    return {name: layerc.compile(build()) for name, build in (
        ("mlp", _mlp), ("convnet", _convnet), ("recurrent", _recurrent),
        ("two", _two_in_two_out))}


def _inputs(model, batch, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, *t.sample_shape)).astype(np.float32)
            for _, t in model.input_specs]


def _as_list(y):
    return y if isinstance(y, list) else [y]


def _sample_bytes(model):
    return model.program.arena_size * chunks.FLOAT_BYTES


@settings(max_examples=200)  # a few ms each
@given(kind=st.sampled_from(["mlp", "convnet", "recurrent", "two"]),
       batch=st.integers(0, 70), per_chunk=st.integers(1, 80), spare=st.integers(0, 3),
       batch_size=st.none() | st.integers(1, 80), seed=st.integers(0, 3))
def test_chunked_predicts_equal_unchunked_bit_for_bit(models, kind, batch, per_chunk, spare,
                                                       batch_size, seed):
    """A cap of `per_chunk` samples' arenas (and up to 3 bytes short of the
    next) runs chunks of exactly that many; with batch_size the smaller."""
    model = models[kind]
    xs = _inputs(model, batch, seed)
    whole = _as_list(model.predict(xs))
    cap = per_chunk * _sample_bytes(model) + spare
    assert chunks.chunk_samples(model.program.arena_size, cap) == per_chunk
    got = _as_list(model.predict(xs, batch_size=batch_size, max_arena_bytes=cap))
    for g, w in zip(got, whole):
        assert g.shape == w.shape and g.dtype == np.float32
        np.testing.assert_array_equal(g, w)


def test_a_capped_predict_runs_chunks_in_one_arena(models, monkeypatch):
    model = models["two"]
    calls = []
    run = model.program.run

    def spy(xs, batch, state=None, arena=None):
        calls.append((batch, arena if arena is None else arena.size))
        return run(xs, batch, state, arena)

    monkeypatch.setattr(model.program, "run", spy)
    size = model.program.arena_size
    model.predict(_inputs(model, 11, 0), max_arena_bytes=4 * size * 4)
    assert calls == [(4, 4 * size), (4, 4 * size), (3, 4 * size)]
    calls.clear()
    model.predict(_inputs(model, 11, 0), batch_size=2, max_arena_bytes=4 * size * 4)
    assert [b for b, _ in calls] == [2] * 5 + [1]
    calls.clear()
    model.predict(_inputs(model, 11, 0))  # under the default cap: one run
    assert calls == [(11, None)]


def test_a_sample_over_the_cap_runs_one_at_a_time(models, monkeypatch):
    model = models["convnet"]
    batches = []
    run = model.program.run
    monkeypatch.setattr(model.program, "run",
                        lambda xs, batch, *rest: batches.append(batch) or run(xs, batch, *rest))
    xs = _inputs(model, 3, 1)
    got = model.predict(xs, max_arena_bytes=1)
    assert batches == [1, 1, 1]
    np.testing.assert_array_equal(got, model.predict(xs))


def test_the_cap_comes_from_the_option_else_the_environment(monkeypatch):
    monkeypatch.delenv(chunks.ENV, raising=False)
    assert layerc.compile(_mlp()).max_arena_bytes == chunks.DEFAULT_MB << 20
    monkeypatch.setenv(chunks.ENV, "0.5")
    model = layerc.compile(_mlp())
    assert model.max_arena_bytes == 1 << 19
    assert model.program.arenas.cache_bytes == 1 << 17
    assert model.program.arenas.keep_bytes == 1 << 15
    assert layerc.compile(_mlp(), max_arena_bytes=1000).max_arena_bytes == 1000


@pytest.mark.parametrize("text", ["0", "-3", "lots", "inf", "nan"])
def test_a_bad_environment_cap_is_a_config_error(monkeypatch, text):
    monkeypatch.setenv(chunks.ENV, text)
    with pytest.raises(ConfigError, match=f"{chunks.ENV}='{text}': expected a positive"):
        layerc.compile(_mlp())


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "1GB"])
def test_a_bad_cap_is_refused_where_it_is_given(models, value):
    with pytest.raises(ConfigError, match="compile: max_arena_bytes must be a positive int"):
        layerc.compile(_mlp(), max_arena_bytes=value)
    model = models["mlp"]
    with pytest.raises(InputError, match="max_arena_bytes must be a positive int"):
        model.predict(_inputs(model, 2, 0)[0], max_arena_bytes=value)


def test_load_and_variable_length_models_take_the_cap(tmp_path):
    compiled = layerc.compile(_mlp())
    compiled.save(tmp_path / "mlp.lcz")
    assert layerc.load(tmp_path / "mlp.lcz", max_arena_bytes=4096).max_arena_bytes == 4096
    with pytest.raises(ConfigError, match="load: max_arena_bytes"):
        layerc.load(tmp_path / "mlp.lcz", max_arena_bytes=0)
    variable = layerc.compile(layerc.Sequential([Input((None, 3)), LSTM(4), Dense(2)]),
                              max_arena_bytes=1 << 20)
    x = np.random.default_rng(0).normal(size=(9, 5, 3)).astype(np.float32)
    whole = variable.predict(x)
    np.testing.assert_array_equal(variable.predict(x, max_arena_bytes=100), whole)
    assert variable.specialize(((5, 3),)).max_arena_bytes == 1 << 20


def test_a_stateful_model_chunks_by_its_batch_whatever_the_cap():
    """Streams of 3: a batch of 12 is four chunks of 3 in order, with any cap
    (even one below a single chunk's arena); the states end where four calls
    of 3 leave them."""
    layerc.utils.set_random_seed(1)
    net = _stateful()
    capped = layerc.compile(net, max_arena_bytes=1)
    stepped = layerc.compile(net)
    x = np.random.default_rng(4).normal(size=(4 * STREAMS, 4, 5)).astype(np.float32)
    got = capped.predict(x)
    want = np.concatenate([stepped.predict(x[i:i + STREAMS])
                           for i in range(0, len(x), STREAMS)])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(capped.layer_states("gru")[0], stepped.layer_states("gru")[0])
    with pytest.raises(InputError, match="exactly 3 samples"):
        capped.predict(x[:4])


@pytest.fixture(scope="module")
def stateful_twins():
    layerc.utils.set_random_seed(1)
    net = _stateful()
    return layerc.compile(net), layerc.compile(net)


@settings(max_examples=60)
@given(history=st.integers(0, 2), calls=st.integers(0, 5),
       cap=st.integers(1, 4000) | st.integers(1, 1 << 24), seed=st.integers(0, 3))
def test_stateful_predicts_under_any_cap_equal_calls_of_one_batch(stateful_twins, history,
                                                                  calls, cap, seed):
    """From the same states, a capped predict of several batches equals one
    predict per batch on a twin, outputs and states bit for bit."""
    capped, stepped = stateful_twins
    for model in (capped, stepped):
        model.reset_states()
        for i in range(history):
            model.predict(_inputs(model, STREAMS, 10 + i)[0])
    (x,) = _inputs(capped, calls * STREAMS, seed)
    got = capped.predict(x, max_arena_bytes=cap)
    want = [stepped.predict(x[i:i + STREAMS]) for i in range(0, len(x), STREAMS)]
    np.testing.assert_array_equal(got, np.concatenate(want) if want else got)
    assert got.shape == (calls * STREAMS, 4, 2)
    np.testing.assert_array_equal(capped.layer_states("gru")[0], stepped.layer_states("gru")[0])
