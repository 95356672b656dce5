"""layerc.dask against plain predict: samples per second of the MNIST convnet
with 1 and 2 Dask workers against `CompiledModel.predict` in one process, and
what one Dask task costs beyond its predict.

    .venv/bin/python benchmarks/bench_dask.py [--images N] [--chunk N] [--out FILE]

Needs the `dask` extra. Every Dask row runs on a fresh
`LocalCluster(processes=True)` whose scheduler lives in this process. The
images are drawn on the workers and persisted before the clock starts (the
data is where the work is, as on a cluster that reads its own files); a warm-up
run loads the model on every worker first, so each row is the best of
`--rounds` timed runs of predict alone, up to the scored arrays held on the
workers. The per-task overhead: 1-image chunks on one worker, the wall time
per task minus predict's time for one image in this process. Writes a
Markdown table (with the machine's core count) to benchmarks/dask_results.md.
Not part of run.py: it times Dask's scheduling, not a model against its peers.
"""

from __future__ import annotations

import argparse
import os
import platform
import runpy
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import layerc

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (28, 28, 1)


def best_of(rounds: int, run: Callable[[], Any]) -> float:
    """The shortest of `rounds` timings of `run()`, in seconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def plain(compiled_for: Callable[[int | None], Any], x: np.ndarray, chunk: int, threads: int | None,
          rounds: int) -> float:
    model = compiled_for(threads)
    model.predict(x[:chunk])
    return len(x) / best_of(rounds, lambda: model.predict(x, batch_size=chunk))


def on_dask(artifact: bytes, n: int, chunk: int, workers: int, threads: int | None,
            rounds: int) -> float:
    """Samples per second with `workers` worker processes of one thread each,
    each predict on `threads` layerc threads (None: layerc.dask's default, 1)."""
    import dask.array as da
    from dask.distributed import Client, LocalCluster, wait
    from dask.graph_manipulation import clone

    import layerc.dask

    with LocalCluster(processes=True, n_workers=workers, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        x = da.random.default_rng(0).random((n, *SHAPE), dtype=np.float32,
                                            chunks=(chunk, *SHAPE))
        x = client.persist(x)
        wait(x)
        y = layerc.dask.predict(artifact, x, threads=threads)

        def run() -> None:
            # new keys each run (the inputs' kept), or the scheduler would
            # hand back the last run's results
            scored = client.persist(clone(y, omit=x))
            wait(scored)
            del scored

        run()  # each worker loads the model once
        return n / best_of(rounds, run)


def overhead(artifact: bytes, compiled: Any, tasks: int, rounds: int) -> tuple[float, float]:
    """(wall ms per 1-image task on one worker, in-process predict ms of one image)."""
    import dask.array as da
    from dask.distributed import Client, LocalCluster, wait
    from dask.graph_manipulation import clone

    import layerc.dask

    one = np.random.default_rng(1).random((1, *SHAPE), dtype=np.float32)
    compiled.predict(one)
    alone = best_of(rounds, lambda: [compiled.predict(one) for _ in range(tasks)]) / tasks
    with LocalCluster(processes=True, n_workers=1, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        x = client.persist(da.random.default_rng(0).random((tasks, *SHAPE), dtype=np.float32,
                                                           chunks=(1, *SHAPE)))
        wait(x)
        y = layerc.dask.predict(artifact, x)

        def run() -> None:
            # new keys each run (the inputs' kept), or the scheduler would
            # hand back the last run's results
            scored = client.persist(clone(y, omit=x))
            wait(scored)
            del scored

        run()
        per_task = best_of(rounds, run) / tasks
    return per_task * 1e3, alone * 1e3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=40_000)
    ap.add_argument("--chunk", type=int, default=2000, help="images per task")
    ap.add_argument("--rounds", type=int, default=3, help="timed runs per row (best kept)")
    ap.add_argument("--tasks", type=int, default=400, help="1-image tasks for the overhead")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "dask_results.md"))
    args = ap.parse_args(argv)

    import dask
    import distributed

    build = runpy.run_path(str(ROOT / "examples" / "mnist_convnet.py"),
                           run_name="bench")["build_model"]
    model = build()

    def compiled_for(threads: int | None) -> Any:
        return layerc.compile(model, threads=threads)

    default = compiled_for(None)
    with tempfile.TemporaryDirectory(prefix="layerc-bench-dask-") as folder:
        default.save(Path(folder) / "mnist.lcz")
        artifact = (Path(folder) / "mnist.lcz").read_bytes()
    x = np.random.default_rng(0).random((args.images, *SHAPE), dtype=np.float32)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    rows: list[tuple[str, float]] = []

    def row(label: str, rate: float) -> None:
        print(f"{label}: {rate:,.0f} images/s", flush=True)
        rows.append((label, rate))

    row(f"plain predict, one process, layerc on {default.threads} threads (default)",
        plain(compiled_for, x, args.chunk, None, args.rounds))
    row("plain predict, one process, 1 thread",
        plain(compiled_for, x, args.chunk, 1, args.rounds))
    for workers, threads in ((1, None), (1, cores), (2, None)):
        layerc_threads = threads or 1
        row(f"dask, {workers} worker(s) x 1 thread, layerc {layerc_threads} thread(s) per task",
            on_dask(artifact, args.images, args.chunk, workers, threads, args.rounds))
    per_task, alone = overhead(artifact, default, args.tasks, args.rounds)
    print(f"per task: {per_task:.2f} ms on Dask, {alone:.3f} ms predict alone", flush=True)

    reference, one_thread = rows[0][1], rows[1][1]
    lines = [f"machine: {platform.machine()}, os.cpu_count()={os.cpu_count()}, usable cores="
             f"{cores}; Python {platform.python_version()}, dask {dask.__version__}, "
             f"distributed {distributed.__version__}",
             "",
             f"MNIST convnet (examples/mnist_convnet.py), {args.images} images of 28x28x1 in "
             f"chunks of {args.chunk}; best of {args.rounds} runs after a warm-up; Dask rows "
             f"on a LocalCluster(processes=True) whose scheduler runs in the benchmark's "
             f"process, inputs persisted on the workers first",
             "",
             "| how | images/s | vs plain predict (default threads) |",
             "|---|---|---|"]
    lines += [f"| {label} | {rate:,.0f} | {rate / reference:.2f}x |" for label, rate in rows]
    lines += ["",
              f"Per-task overhead: {args.tasks} one-image chunks on one worker took "
              f"{per_task:.2f} ms a task, against {alone:.3f} ms for predict of one image "
              f"in one process: about {per_task - alone:.2f} ms of Dask per task "
              f"(scheduling, messages, the task's bookkeeping), so a chunk should run well "
              f"beyond that ({args.chunk} images: about {args.chunk / one_thread * 1e3:.0f} ms "
              f"on one thread here)."]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
