"""layerc's thread team (codegen/cpu/team.py): a predict on several threads
gives the numbers one thread gives, for every kernel that splits its work in
team regions; helpers take part; concurrent predicts, a run that raises and
a forked child leave the team usable; with its cores taken by another
thread, the owner frees its core for a helper that lost its own, and the
team steps aside."""

import multiprocessing
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import layerc
from layerc import layers as L
from layerc.codegen.cpu import build, team, team_aside

TWO = 2  # the owner and one helper (a machine of 2 CPUs or more)
# What the busy-core handling (team_aside.py, `close`) runs on; elsewhere that
# code does nothing, so there is nothing to test.
LINUX = pytest.mark.skipif(not team_aside.LINUX, reason="getrusage(RUSAGE_THREAD), "
                           "sched_getcpu and sched_setaffinity: Linux only")
FUTEX = pytest.mark.skipif(not team.FUTEX, reason="the owner sleeps in close on a futex: Linux "
                           "on x86-64 or AArch64 only (elsewhere it spins)")


@pytest.fixture(autouse=True)
def _team_at_work():
    """A test starts with the team working, and the team does not step aside
    while it runs (contention on a busy test machine could make it, and a
    test that checks its helpers took part would then fail); the tests of
    stepping aside set the policy they test."""
    layerc.compile(layerc.Sequential([L.Input((4,)), L.Dense(2)]), threads=TWO).predict(
        np.ones((1, 4), np.float32))  # starts the helpers, which set the policy
    default = int(team.STATE[team.LOST_LIMIT])
    team.STATE[team.LOST_LIMIT] = 2 ** 40
    team.STATE[team.ALONE_UNTIL] = 0
    yield
    team.STATE[team.LOST_LIMIT] = default


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


def test_a_recurrent_layer_splits_its_batch_only_when_its_sequence_is_worth_a_region():
    """A streaming layer's one step for two rows (fewer FLOPs than a GEMM that
    runs serially) stays in the owner; the same layer over 40 steps splits."""
    rng = np.random.default_rng(3)
    for steps, splits in ((1, False), (40, True)):
        model = layerc.Sequential([L.Input((steps, 8)), L.GRU(32)])
        one, two = layerc.compile(model, threads=1), layerc.compile(model, threads=TWO)
        x = rng.standard_normal((2, steps, 8)).astype(np.float32)
        helped = int(team.STATE[team.HELPED])
        for _ in range(20):  # a helper may be napping at first, or its core busy
            np.testing.assert_allclose(two.predict(x), one.predict(x), rtol=1e-6, atol=1e-6)
        assert (team.STATE[team.HELPED] > helped) == splits, f"{steps} steps"


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


def _spinner(core):
    """Another process spinning on `core`."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    os.sched_setaffinity(spinner.pid, {core})
    return spinner


@LINUX
def test_lost_cores_counts_the_threads_involuntary_context_switches():
    import resource  # (Unix only)

    core = min(os.sched_getaffinity(0))
    seen: dict[str, int] = {}

    def pinned() -> None:  # this thread alone shares its core with a spinner
        os.sched_setaffinity(0, {core})
        before = team.lost_cores()
        seen["python before"] = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
        end = time.perf_counter() + 0.2
        while time.perf_counter() < end:
            pass
        seen["python after"] = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
        seen["lost"] = team.lost_cores() - before
        seen["after"] = team.lost_cores()

    spinner = _spinner(core)
    try:
        thread = threading.Thread(target=pinned)
        thread.start()
        thread.join()
    finally:
        spinner.kill()
        spinner.wait()
    assert seen["lost"] > 0, "0.2 s on a shared core and never preempted"
    assert seen["python after"] <= seen["after"] <= seen["python after"] + 2


def test_a_team_standing_aside_runs_alone_with_the_same_numbers():
    model = layerc.Sequential([L.Input((300,)), L.Dense(700, activation="relu"), L.Dense(9)])
    one, two = layerc.compile(model, threads=1), layerc.compile(model, threads=TWO)
    x = np.random.default_rng(4).standard_normal((64, 300)).astype(np.float32)
    expected = one.predict(x)
    two.predict(x)
    team.STATE[team.ALONE_UNTIL] = 2 ** 62
    gen, helped = int(team.STATE[team.GEN]), int(team.STATE[team.HELPED])
    for _ in range(10):
        np.testing.assert_allclose(two.predict(x), expected, rtol=1e-6, atol=1e-6)
    assert team.STATE[team.GEN] == gen and team.STATE[team.HELPED] == helped
    team.STATE[team.ALONE_UNTIL] = 0
    for _ in range(10):
        np.testing.assert_allclose(two.predict(x), expected, rtol=1e-6, atol=1e-6)
    assert team.STATE[team.GEN] > gen, "the team did not come back"


def test_the_team_steps_aside_after_a_window_with_lost_cores():
    """The policy alone (`watch`): a window that counts LOST_LIMIT lost cores
    makes owners run alone, for ALONE_MIN cycles and twice as long after each
    such window up to ALONE_MAX; a window that counts fewer does not, and
    starts the next time alone at ALONE_MIN again."""
    model = layerc.compile(layerc.Sequential([L.Input((300,)), L.Dense(700)]), threads=TWO)
    x = np.ones((8, 300), np.float32)
    model.predict(x)
    fields = (team.WINDOW, team.LOST_LIMIT, team.ALONE_MIN, team.ALONE_MAX, team.ALONE)
    saved = {f: int(team.STATE[f]) for f in fields}

    def windows(limit):  # runs 1.5 ms apart: a window has passed at each
        team.STATE[team.LOST_LIMIT] = limit
        stepped = int(team.STATE[team.STEPPED])
        for _ in range(50):  # (a sleep that outlasts 4 windows starts a new window)
            model.predict(x)
            if team.STATE[team.STEPPED] > stepped:
                break
            time.sleep(0.0015)
        return int(team.STATE[team.STEPPED]) - stepped

    try:
        team.STATE[team.WINDOW] = team.STATE[team.RATE] // 10  # 1 ms
        team.STATE[team.ALONE_MIN] = unit = team.STATE[team.RATE] // 100  # 0.1 ms
        team.STATE[team.ALONE_MAX] = 3 * unit
        team.STATE[team.ALONE] = 0
        team.STATE[team.WINDOW_TID] = 0  # a fresh window, under this policy
        team.STATE[team.ALONE_UNTIL] = 0  # (the first predict's window may have stepped)
        assert windows(2 ** 40) == 0 and team.STATE[team.ALONE_UNTIL] == 0
        for alone_next in (2 * unit, 3 * unit, 3 * unit):
            assert windows(0) == 1  # any window steps aside
            assert team.STATE[team.ALONE_UNTIL] > 0 and team.STATE[team.ALONE] == alone_next
            gen = int(team.STATE[team.GEN])
            team.STATE[team.ALONE_UNTIL] = 2 ** 62
            model.predict(x)
            assert team.STATE[team.GEN] == gen, "an owner used the team while it stood aside"
            team.STATE[team.ALONE_UNTIL] = 0
        assert windows(2 ** 40) == 0 and team.STATE[team.ALONE] == unit
    finally:
        for field, value in saved.items():
            team.STATE[field] = value


def _on_one_core(queue):  # pragma: no cover - in the child
    """The owner and its helper on one core: a helper that holds a chunk when
    the owner reaches `close` can only finish once the owner sleeps."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    model = layerc.Sequential([L.Input((300,)), L.Dense(700, activation="relu"), L.Dense(700)])
    one, two = layerc.compile(model, threads=1), layerc.compile(model, threads=TWO)
    x = np.random.default_rng(5).standard_normal((64, 300)).astype(np.float32)
    expected = one.predict(x)
    two.predict(x)  # starts the helper, on this core
    team.STATE[team.LOST_LIMIT] = 2 ** 40  # the team never steps aside
    worst, end = 0.0, time.perf_counter() + 20
    while team.STATE[team.SLEPT] == 0 and time.perf_counter() < end:
        worst = max(worst, float(np.abs(two.predict(x) - expected).max()))
    slept = int(team.STATE[team.SLEPT])
    team.STATE[team.LOST_LIMIT] = team.LOST_PER_WINDOW
    end = time.perf_counter() + 20
    while team.STATE[team.STEPPED] == 0 and time.perf_counter() < end:
        worst = max(worst, float(np.abs(two.predict(x) - expected).max()))
    queue.put((worst, slept, int(team.STATE[team.STEPPED])))


@FUTEX
def test_a_team_on_one_core_sleeps_for_its_helper_then_steps_aside():
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_on_one_core, args=(queue,))
    child.start()
    worst, slept, stepped = queue.get(timeout=300)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert worst <= 1e-5
    assert slept > 0, "the owner never slept in close for a helper holding a chunk"
    assert stepped > 0, "the team never stepped aside"


@LINUX
@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two usable CPUs to move between")
def test_a_helper_on_the_owners_cpu_moves_off_it_and_keeps_its_affinity():
    """The scheduler can leave the owner and a helper on one CPU long after
    another process took the other; the helper moves itself off."""
    model = layerc.Sequential([L.Input((300,)), L.Dense(700, activation="relu"), L.Dense(9)])
    one, two = layerc.compile(model, threads=1), layerc.compile(model, threads=TWO)
    x = np.random.default_rng(6).standard_normal((64, 300)).astype(np.float32)
    expected = one.predict(x)
    two.predict(x)
    usable = os.sched_getaffinity(0)
    cpu = min(usable)
    helper = team._threads[0].native_id
    moved = int(team.STATE[team.MOVED])
    try:
        os.sched_setaffinity(0, {cpu})  # the owner (this thread) stays on cpu
        for _ in range(20):
            os.sched_setaffinity(helper, {cpu})  # puts the helper on cpu ...
            os.sched_setaffinity(helper, usable)  # ... free to leave it
            time.sleep(0.002)  # past the 1 ms between moves
            np.testing.assert_allclose(two.predict(x), expected, rtol=1e-6, atol=1e-6)
            if team.STATE[team.MOVED] > moved:
                break
    finally:
        os.sched_setaffinity(0, usable)
    assert team.STATE[team.MOVED] > moved, "the helper never moved off the owner's CPU"
    assert os.sched_getaffinity(helper) == usable
