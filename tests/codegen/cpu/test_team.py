"""layerc's thread team (codegen/cpu/team.py): a predict on several threads
gives the numbers one thread gives, for every kernel that splits its work in
team regions; helpers take part; concurrent predicts, a run that raises and
a forked child leave the team usable."""

import multiprocessing
import threading
import time

import numpy as np
import pytest

import layerc
from layerc import layers as L
from layerc.codegen.cpu import build, team

TWO = 2  # the owner and one helper (a machine of 2 CPUs or more)


def _models():
    """One model per kind of team region, at sizes that split."""
    yield "dense", layerc.Sequential([L.Input((300,)), L.Dense(700, activation="relu"),
                                      L.Dense(700, activation="softmax")]), (300,)
    yield "conv, conv+pool, winograd, pool", layerc.Sequential([
        L.Input((30, 30, 3)), L.Conv2D(32, 5, strides=2, activation="relu"),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
        L.Conv2D(48, 3, activation="tanh"), L.AveragePooling2D(), L.Flatten(),
        L.Dense(10)]), (30, 30, 3)
    yield "separable, depthwise, grouped, transposed, resize, batchnorm", layerc.Sequential([
        L.Input((24, 24, 8)), L.SeparableConv2D(16, 3, padding="same"),
        L.DepthwiseConv2D(3), L.Conv2D(16, 3, groups=4), L.BatchNormalization(),
        L.Conv2DTranspose(8, 3, strides=2), L.UpSampling2D(interpolation="bilinear"),
        L.LayerNormalization(), L.GlobalAveragePooling2D()]), (24, 24, 8)
    inputs = L.Input((40, 24))
    attended = L.MultiHeadAttention(4, 16)(inputs, inputs)
    yield "attention, lstm, gru", layerc.Model(inputs, L.GRU(24)(
        L.LSTM(32, return_sequences=True)(attended))), (40, 24)
    yield "embedding", layerc.Sequential([L.Input((300,)), L.Embedding(5000, 256),
                                          L.GlobalMaxPooling1D()]), (300,)


@pytest.mark.parametrize("name, model, shape", list(_models()), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_a_team_gives_one_threads_numbers_and_its_helpers_take_chunks(name, model, shape):
    rng = np.random.default_rng(0)
    one, team_of_two = layerc.compile(model, threads=1), layerc.compile(model, threads=TWO)
    helped = int(team.STATE[team.HELPED])
    for batch in (1, 3, 64):
        x = rng.standard_normal((batch, *shape)).astype(np.float32)
        if name == "embedding":
            x = rng.integers(0, 5000, (batch, *shape)).astype(np.float32)
        expected = one.predict(x)
        for _ in range(20):  # a helper may be napping at first, or its core busy
            np.testing.assert_allclose(team_of_two.predict(x), expected, rtol=1e-6, atol=1e-6)
    assert team.STATE[team.HELPED] > helped, "no helper ever took a chunk"
    assert team.STATE[team.OWNER] == 0


def test_stateful_recurrent_layers_on_a_team_step_like_one_thread():
    model = layerc.Sequential([L.Input((5, 6), batch_size=8),
                               L.LSTM(40, stateful=True, return_sequences=True),
                               L.GRU(40, stateful=True)])
    one, two = layerc.compile(model, threads=1), layerc.compile(model, threads=TWO)
    rng = np.random.default_rng(1)
    for _ in range(6):
        x = rng.standard_normal((8, 5, 6)).astype(np.float32)
        np.testing.assert_allclose(two.predict(x), one.predict(x), rtol=1e-6, atol=1e-6)


def test_predicts_from_many_threads_at_once_are_right():
    """One of them owns the team at a time; the others run alone."""
    model = layerc.Sequential([L.Input((12, 12, 4)), L.Conv2D(32, 3, activation="relu"),
                               L.Flatten(), L.Dense(64)])
    one, two = layerc.compile(model, threads=1), layerc.compile(model, threads=TWO)
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((b, 12, 12, 4)).astype(np.float32) for b in (1, 5, 40, 9)]
    expected = [one.predict(x) for x in xs]
    wrong: list[str] = []

    def work(k: int) -> None:
        for i in range(60):
            j = (i + k) % len(xs)
            if not np.allclose(two.predict(xs[j]), expected[j], rtol=1e-6, atol=1e-6):
                wrong.append(f"thread {k}, call {i}")

    workers = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not wrong
    assert team.STATE[team.OWNER] == 0


def test_a_run_that_raises_frees_the_team(monkeypatch):
    model = layerc.Sequential([L.Input((200,)), L.Dense(600), L.Dense(5)])
    two = layerc.compile(model, threads=TWO)
    x = np.ones((4, 200), np.float32)
    expected = two.predict(x)
    monkeypatch.setattr(build, "TABLE", np.zeros_like(build.TABLE))  # no step is loaded
    with pytest.raises(ValueError, match="not loaded"):
        two.predict(x)
    assert team.STATE[team.OWNER] == 0 and team.STATE[team.ACTIVE] == 0
    monkeypatch.undo()
    gen = int(team.STATE[team.GEN])
    np.testing.assert_array_equal(two.predict(x), expected)
    assert team.STATE[team.GEN] > gen, "the next run did not use the team"


def _predict_in_child(queue, model_path, x):  # pragma: no cover - in the child
    queue.put(layerc.load(model_path).predict(x))


def test_a_forked_child_predicts_with_a_team_of_its_own(tmp_path):
    model = layerc.compile(layerc.Sequential([L.Input((50,)), L.Dense(900), L.Dense(3)]),
                           threads=TWO)
    x = np.random.default_rng(3).standard_normal((16, 50)).astype(np.float32)
    expected = model.predict(x)
    model.save(tmp_path / "m")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_predict_in_child, args=(queue, str(tmp_path / "m"), x))
    child.start()
    got = queue.get(timeout=300)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, expected)


def _helpers_cpu_ticks():
    ticks = 0
    for thread in team._threads:
        with open(f"/proc/self/task/{thread.native_id}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def test_idle_helpers_sleep_and_wake_for_the_next_region():
    """After SPIN_US without a region, helpers block on a futex: an idle
    process burns no CPU (napping helpers woke ~18,000 times a second and
    doubled ONNX Runtime's batch-1 latency in the same process), and the
    next predict wakes them."""
    model = layerc.compile(layerc.Sequential([L.Input((300,)), L.Dense(800)]), threads=TWO)
    x = np.ones((64, 300), np.float32)
    expected = model.predict(x)
    time.sleep(0.05)
    helpers = int(team.STATE[team.HELPERS])
    assert helpers >= 1 and team.STATE[team.SLEEPERS] == helpers
    if team.FUTEX:  # Linux: the helpers' own CPU time, from /proc
        before = _helpers_cpu_ticks()
        time.sleep(0.3)
        assert _helpers_cpu_ticks() - before <= 1  # clock ticks (10 ms each)
    helped = int(team.STATE[team.HELPED])
    for _ in range(50):
        np.testing.assert_array_equal(model.predict(x), expected)
    assert team.STATE[team.HELPED] > helped, "no helper woke up"


@pytest.mark.parametrize("value, expected", [("", team.SPIN_US), ("0", 0), (" 50 ", 50)])
def test_the_spin_time_comes_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(team.SPIN_ENV, value)
    assert team.spin_us() == expected


@pytest.mark.parametrize("value", ["-1", "fast", "2000000"])
def test_a_bad_spin_time_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv(team.SPIN_ENV, value)
    with pytest.raises(layerc.ConfigError, match=f"{team.SPIN_ENV}.*microseconds"):
        team.spin_us()
