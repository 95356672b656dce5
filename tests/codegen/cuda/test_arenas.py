"""The CUDA program's device arenas under the arena cap: chunked predicts in
one device arena equal unchunked ones, kept arenas go with the model, and a
stateful model's device states come back after an interrupted call. Tiny
models: the simulator is slow."""

import gc
import weakref

import numpy as np
import pytest

import layerc
from layerc.layers import GRU, Dense, Input
from layerc.models import Sequential


def test_a_capped_predict_equals_one_run():
    layerc.utils.set_random_seed(0)
    model = layerc.compile(Sequential([Dense(3, activation="relu", input_shape=(4,)),
                                       Dense(2)]), target="cuda")
    x = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    whole = model.predict(x)
    cap = 3 * model.program.arena_size * 4  # chunks of 3, 3, 1 in one arena
    np.testing.assert_array_equal(model.predict(x, max_arena_bytes=cap), whole)
    arena = model.program.arenas.get(model.program.arena_size, 3)
    kept = weakref.ref(arena)
    del arena
    gone = weakref.ref(model)
    gc.disable()
    try:
        del model
        assert gone() is None and kept() is None
    finally:
        gc.enable()


def test_an_interrupted_stateful_call_puts_the_device_states_back(monkeypatch):
    def build():
        layerc.utils.set_random_seed(1)
        return Sequential([Input((1, 2), batch_size=1), GRU(2, stateful=True, name="rnn")])

    model, twin = (layerc.compile(build(), target="cuda") for _ in range(2))
    x = np.random.default_rng(1).normal(size=(3, 1, 2)).astype(np.float32)
    model.predict(x[:1]), twin.predict(x[:1])
    before = model.layer_states("rnn")[0]
    run = model.program.run
    calls = [0]

    def flaky(xs, batch, state=None, arena=None):
        calls[0] += 1
        outs = run(xs, batch, state, arena)
        if calls[0] == 2:
            raise KeyboardInterrupt
        return outs

    monkeypatch.setattr(model.program, "run", flaky)
    with pytest.raises(KeyboardInterrupt):
        model.predict(x)
    monkeypatch.undo()
    np.testing.assert_array_equal(model.layer_states("rnn")[0], before)
    np.testing.assert_array_equal(model.predict(x[1:2]), twin.predict(x[1:2]))
