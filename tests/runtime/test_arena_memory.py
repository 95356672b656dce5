"""What predict keeps and what it takes: the arenas a CompiledModel keeps
between calls stay within its budget across threads, large ones go when the
call returns, all of them go with the model, a capped predict's working
memory stays near the cap, and RSS stops growing under a long mixed load.

Run as a script (`python tests/runtime/test_arena_memory.py`), this file is
the load of the RSS test, printing what it measured as JSON."""

import gc
import json
import os
import subprocess
import sys
import threading
import tracemalloc
import weakref
from pathlib import Path

import numpy as np

import layerc
from layerc.layers import Dense

MB = 1 << 20


def _tiny():
    layerc.utils.set_random_seed(0)
    return layerc.Sequential([Dense(4, activation="relu", input_shape=(4,)), Dense(2)])


def _wide():
    """A model whose arena is wide (three 256-wide layers) and output narrow."""
    layerc.utils.set_random_seed(0)
    return layerc.Sequential([Dense(256, activation="relu", input_shape=(16,)),
                              Dense(256, activation="relu"), Dense(256, activation="relu"),
                              Dense(2)])


def _threads(n, work):
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_a_dropped_models_arenas_are_freed_by_reference_counting():
    """Arenas kept by threads that outlive the model (a pool's) and by this
    one go when the model goes, with the cycle collector off."""
    model = layerc.compile(_wide())
    size = model.program.arena_size
    kept: list[weakref.ref] = []
    ready, stop = threading.Barrier(5), threading.Event()
    gone = weakref.ref(model)  # the pool's threads hold no reference to it

    def serve(i: int) -> None:
        gone().predict(np.ones((i + 1, 16), np.float32))
        kept.append(weakref.ref(gone().program.arenas.get(size, i + 1)))
        ready.wait()
        stop.wait()

    pool = [threading.Thread(target=serve, args=(i,)) for i in range(4)]
    for t in pool:
        t.start()
    ready.wait()
    model.predict(np.ones((9, 16), np.float32))
    kept.append(weakref.ref(model.program.arenas.get(size, 9)))
    assert model.program.arenas.nbytes == sum(range(1, 5)) * size * 4 + 9 * size * 4
    gc.disable()
    try:
        del model
        assert gone() is None
        assert [ref() for ref in kept] == [None] * 5
    finally:
        gc.enable()
        stop.set()
        for t in pool:
            t.join()


def test_large_arenas_are_not_kept_and_kept_ones_stay_within_budget():
    cap = 4 * MB  # budget 1 MiB, nothing over 256 KiB kept
    model = layerc.compile(_wide(), max_arena_bytes=cap)
    arenas = model.program.arenas
    per_sample = model.program.arena_size * 4
    big = (256 * 1024) // per_sample + 1  # just over what is kept
    model.predict(np.ones((big, 16), np.float32))
    assert arenas.nbytes == 0
    model.predict(np.ones((big - 1, 16), np.float32))
    assert arenas.nbytes == (big - 1) * per_sample
    most = []

    def work(i: int) -> None:
        for batch in range(1, big, 7):
            model.predict(np.ones((batch, 16), np.float32))
            most.append(arenas.nbytes)

    _threads(8, work)
    assert max(most) <= cap // 4


def test_a_capped_predict_takes_about_the_cap_beyond_its_result():
    """30,000 samples of a model with a 2 KiB arena per sample: 59 MiB
    unchunked. With a 4 MiB cap, NumPy's allocations at their peak are the
    cap, the outputs (234 KiB) and a chunk's outputs (16 KiB)."""
    model = layerc.compile(_wide(), max_arena_bytes=4 * MB)
    x = np.random.default_rng(0).random((30_000, 16), np.float32)
    assert x.shape[0] * model.program.arena_size * 4 > 50 * MB
    model.predict(x[:10])  # kernels loaded
    tracemalloc.start()
    try:
        y = model.predict(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert y.shape == (30_000, 2)
    assert peak < 4 * MB + 1 * MB, f"peak {peak / MB:.1f} MiB"
    np.testing.assert_array_equal(y, layerc.compile(_wide()).predict(x))


# ----- RSS under a long mixed load (the load runs in a fresh process) -----
THREADS, PREDICTS = 16, 100_000
LARGEST = 4096


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _load() -> dict:
    """PREDICTS predicts of the tiny model from THREADS threads: 99% of
    batches of 1-64 samples, 1% of 65-4096 (so new batch sizes keep coming),
    each output checked against one single-threaded predict of all 4096.
    RSS is read when every thread is half way, and when every thread is
    done (before they end, which frees what they keep)."""
    model = layerc.compile(_tiny(), threads=1)
    x = np.random.default_rng(0).normal(size=(LARGEST, 4)).astype(np.float32)
    want = model.predict(x)
    per_thread = PREDICTS // THREADS
    half, resume, done = (threading.Barrier(THREADS + 1) for _ in range(3))
    wrong = []

    def work(i: int) -> None:
        rng = np.random.default_rng(i)
        large = rng.random(per_thread) < 0.01
        sizes = np.where(large, rng.integers(65, LARGEST + 1, per_thread),
                         rng.integers(1, 65, per_thread))
        for n, batch in enumerate(sizes):
            if n == per_thread // 2:
                half.wait()
                resume.wait()
            if not np.array_equal(model.predict(x[:batch]), want[:batch]):
                wrong.append(int(batch))
        done.wait()
        resume.wait()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    start = _rss()
    for t in threads:
        t.start()
    half.wait()
    middle, kept_middle = _rss(), model.program.arenas.nbytes
    resume.wait()
    done.wait()
    end, kept_end = _rss(), model.program.arenas.nbytes
    resume.wait()
    for t in threads:
        t.join()
    return dict(start=start, middle=middle, end=end, kept_middle=kept_middle, kept_end=kept_end,
                budget=model.program.arenas.cache_bytes, wrong=wrong[:10])


def test_rss_stops_growing_under_100000_mixed_predicts_from_16_threads():
    """Half way RSS has grown by what warm threads hold (their malloc arenas,
    kept arenas); the second 50,000 predicts may add at most 8 MiB (they add
    about 1). Tried: with a cache that kept every batch size (MAX_ARENAS and
    the budget unbounded) RSS grew 36 MiB in the second half (the kept
    arenas 126 MiB, a third of their pages touched); leaking 200 bytes a
    predict, 15 MiB. About 8 s on 2 cores."""
    env = dict(os.environ, LAYERC_PROGRESS="0")
    done = subprocess.run([sys.executable, str(Path(__file__))], capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["wrong"] == []
    assert max(got["kept_middle"], got["kept_end"]) <= got["budget"]
    grew = got["end"] - got["middle"]
    assert grew < 8 * MB, f"RSS grew {grew / MB:.1f} MiB in the second half: {got}"


if __name__ == "__main__":
    print(json.dumps(_load()))
