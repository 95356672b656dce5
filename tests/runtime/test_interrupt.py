"""A predict that raises between chunks (KeyboardInterrupt, or any error)
leaves the model usable, and a stateful model's states as they were before
the call."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import layerc
from layerc.layers import GRU, Dense, Input

STREAMS = 2


def _stateful():
    layerc.utils.set_random_seed(0)
    return layerc.Sequential([Input((3, 4), batch_size=STREAMS),
                              GRU(8, stateful=True, return_sequences=True, name="gru"),
                              Dense(2)], name="streams")


def _failing_on(model, monkeypatch, call, error):
    """Makes the `call`-th chunk of `model` run (states updated) and then raise."""
    run = model.program.run
    calls = [0]

    def flaky(xs, batch, state=None, arena=None):
        calls[0] += 1
        outs = run(xs, batch, state, arena)
        if calls[0] == call:
            raise error
        return outs

    monkeypatch.setattr(model.program, "run", flaky)


def _x(batch, seed):
    return np.random.default_rng(seed).normal(size=(batch, 3, 4)).astype(np.float32)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("disk on fire")],
                         ids=["interrupt", "error"])
def test_a_stateful_model_gets_its_states_back(monkeypatch, error):
    model, twin = layerc.compile(_stateful()), layerc.compile(_stateful())
    for m in (model, twin):  # some history first
        m.predict(_x(STREAMS, 0))
    before = model.layer_states("gru")[0]
    _failing_on(model, monkeypatch, 3, error)
    with pytest.raises(type(error)):
        model.predict(_x(5 * STREAMS, 1))  # five chunks; the third raises after running
    monkeypatch.undo()
    np.testing.assert_array_equal(model.layer_states("gru")[0], before)
    x = _x(4 * STREAMS, 2)
    np.testing.assert_array_equal(model.predict(x), twin.predict(x))
    np.testing.assert_array_equal(model.layer_states("gru")[0], twin.layer_states("gru")[0])


def test_a_model_interrupted_between_chunks_runs_again(monkeypatch):
    layerc.utils.set_random_seed(0)
    model = layerc.compile(layerc.Sequential([Dense(16, activation="relu", input_shape=(8,)),
                                              Dense(3)]))
    x = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    want = model.predict(x)
    cap = 7 * model.program.arena_size * 4
    _failing_on(model, monkeypatch, 4, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        model.predict(x, max_arena_bytes=cap)
    monkeypatch.undo()
    np.testing.assert_array_equal(model.predict(x, max_arena_bytes=cap), want)
    np.testing.assert_array_equal(model.predict(x), want)


CHILD = textwrap.dedent("""
    import os, signal, threading, time, traceback
    import numpy as np
    import layerc
    from layerc.layers import GRU, Dense, Input

    def build():
        layerc.utils.set_random_seed(0)
        return layerc.Sequential([Input((1, 4), batch_size=2),
                                  GRU(8, stateful=True, return_sequences=True, name="gru"),
                                  Dense(2)])

    model, twin = layerc.compile(build()), layerc.compile(build())
    rng = np.random.default_rng(0)
    warm = rng.normal(size=(2, 1, 4)).astype(np.float32)
    model.predict(warm), twin.predict(warm)
    probe = rng.normal(size=(2000, 1, 4)).astype(np.float32)
    model.predict_from_zero_state(probe)  # its time, states untouched
    start = time.perf_counter()
    model.predict_from_zero_state(probe)
    per_chunk = (time.perf_counter() - start) / 1000
    chunks = int(3.0 / per_chunk)  # about 3 s of chunks; the signal comes at 0.3 s
    long = rng.normal(size=(2 * chunks, 1, 4)).astype(np.float32)
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    try:
        model.predict(long)
        print("not interrupted")
    except KeyboardInterrupt as err:
        frames = [f.name for f in traceback.extract_tb(err.__traceback__)]
        assert "_predict_stateful" in frames, frames
        x = rng.normal(size=(8, 1, 4)).astype(np.float32)
        assert np.array_equal(model.predict(x), twin.predict(x))
        print("states as before")
""")


def test_a_real_sigint_during_a_long_stateful_predict():
    """SIGINT arrives while a long predict runs; Python raises KeyboardInterrupt
    when the native call of the current chunk returns. In a subprocess, so a
    late signal cannot hit the test run."""
    env = dict(os.environ, LAYERC_PROGRESS="0")
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "states as before", done.stdout + done.stderr[-3000:]
