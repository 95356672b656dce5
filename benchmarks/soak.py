"""Soak: a CompiledModel served from a thread pool for a fixed number of
requests, with stateful streams running beside it; every output checked.

    .venv/bin/python benchmarks/soak.py [--quick] [--threads N] [--requests R]
                                        [--streams S] [--steps T] [--max-arena-mb M]
                                        [--out FILE]

- Served: examples/mnist_convnet.py, compiled once with max_arena_bytes=M MiB
  (default 32: chunks of ~300 samples, arenas over 2 MiB not kept), answering
  R requests from a ThreadPoolExecutor of N threads. A request is one of 256
  inputs drawn at start: 70% of 1-8 images, 25% of 9-64, 5% of 65-512 (the
  large ones run in chunks).
- Streamed: S streams of examples/streaming_gru.py (a stateful GRU over 2
  sequences, one timestep a sample pair), each its own CompiledModel fed by
  its own thread, T calls of 1-8 timesteps each, beside the pool.
- Checked: before the soak, each of the 256 inputs is predicted once from a
  single thread; every served output must equal it bit for bit. Each stream's
  calls are replayed afterwards, in order, from one thread on a fresh compile
  of the same model; every output must be equal.
- Reported: throughput (requests and images per second, stream timesteps per
  second), latency percentiles of one predict (p50, p99, max) for each kind,
  RSS every half second (and the bytes of arenas the served model keeps), and
  the peak RSS. The table is printed and written to FILE (default
  benchmarks/soak.md). Exit status 1 if any output differed.

`make bench` runs the default counts (about a minute on 2 cores); --quick is
a smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import runpy
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

import layerc

ROOT = Path(__file__).resolve().parents[1]
DISTINCT = 256  # request inputs drawn at start
FULL = dict(threads=16, requests=20_000, streams=4, steps=1_000)
QUICK = dict(threads=4, requests=2_000, streams=2, steps=200)
MB = 1 << 20


def _example(name: str) -> dict[str, Any]:
    return runpy.run_path(str(ROOT / "examples" / f"{name}.py"), run_name="soak")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def _request_sizes(rng: np.random.Generator, count: int) -> np.ndarray:
    kind = rng.random(count)
    return np.where(kind < 0.70, rng.integers(1, 9, count),
                    np.where(kind < 0.95, rng.integers(9, 65, count),
                             rng.integers(65, 513, count)))


class Sampler(threading.Thread):
    """RSS (MiB) and the served model's kept arena bytes every `every` s."""

    def __init__(self, model: Any, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.model, self.every = model, every
        self.samples: list[tuple[float, float, int]] = []
        self.stop = threading.Event()
        self.start_time = time.perf_counter()

    def sample(self) -> None:
        self.samples.append((time.perf_counter() - self.start_time, _rss_mib(),
                             self.model.program.arenas.nbytes))

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.sample()


def _stream(model: Any, calls: list[np.ndarray], latencies: list[float],
            outputs: list[np.ndarray]) -> None:
    for x in calls:
        t0 = time.perf_counter()
        outputs.append(model.predict(x))
        latencies.append(time.perf_counter() - t0)


def soak(threads: int, requests: int, streams: int, steps: int, cap_mb: float) -> dict:
    rng = np.random.default_rng(0)
    served = layerc.compile(_example("mnist_convnet")["build_model"](),
                            max_arena_bytes=int(cap_mb * MB))
    inputs = [rng.random((int(n), 28, 28, 1), dtype=np.float32)
              for n in _request_sizes(rng, DISTINCT)]
    expected = [served.predict(x) for x in inputs]  # single-threaded
    served.program.arenas.clear()
    picks = rng.integers(0, DISTINCT, requests)

    gru = _example("streaming_gru")
    net, width = gru["build_model"](), gru["STREAMS"]
    stream_models = [layerc.compile(net) for _ in range(streams)]
    stream_calls = [[rng.normal(size=(width * int(k), 1, gru["FEATURES"])).astype(np.float32)
                     for k in rng.integers(1, 9, steps)] for _ in range(streams)]
    for m in stream_models:  # kernels loaded, states zeroed
        m.predict(stream_calls[0][0])
        m.reset_states()

    latency = np.zeros(requests)
    wrong: list[int] = []

    def serve(i: int) -> None:
        x = inputs[picks[i]]
        t0 = time.perf_counter()
        y = served.predict(x)
        latency[i] = time.perf_counter() - t0
        if not np.array_equal(y, expected[picks[i]]):
            wrong.append(i)

    sampler = Sampler(served)
    stream_latency: list[list[float]] = [[] for _ in range(streams)]
    stream_outputs: list[list[np.ndarray]] = [[] for _ in range(streams)]
    streamers = [threading.Thread(target=_stream, args=(m, c, lat, out))
                 for m, c, lat, out in zip(stream_models, stream_calls, stream_latency,
                                           stream_outputs)]
    sampler.sample()
    sampler.start()
    start = time.perf_counter()
    for t in streamers:
        t.start()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(serve, range(requests)))
    served_wall = time.perf_counter() - start
    for t in streamers:
        t.join()
    wall = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    sampler.sample()

    stream_wrong = 0
    for calls, outs in zip(stream_calls, stream_outputs):
        replay = layerc.compile(net)
        stream_wrong += sum(not np.array_equal(replay.predict(x), y)
                            for x, y in zip(calls, outs))
    steps_total = sum(len(x) // width for calls in stream_calls for x in calls)
    stream_all = np.array([t for lat in stream_latency for t in lat])
    return dict(
        layerc_threads=served.threads, threads=threads, requests=requests, streams=streams,
        steps=steps, cap_mb=cap_mb,
        arena_floats=served.program.arena_size, images=int(sum(len(inputs[p]) for p in picks)),
        served_wall=served_wall, wall=wall, latency=latency, stream_latency=stream_all,
        stream_timesteps=steps_total, wrong=len(wrong), stream_wrong=stream_wrong,
        stream_calls=streams * steps, samples=sampler.samples,
        peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        budget=served.program.arenas.cache_bytes, keep=served.program.arenas.keep_bytes,
        chunk=max(int(cap_mb * MB) // (served.program.arena_size * 4), 1))


def _ms(values: np.ndarray, q: float) -> str:
    return f"{np.percentile(values, q) * 1e3:.2f}"


def report(r: dict) -> str:
    lat, slat = r["latency"], r["stream_latency"]
    samples = r["samples"]
    shown = samples if len(samples) <= 16 else \
        [samples[int(i)] for i in np.linspace(0, len(samples) - 1, 16)]
    rss = [s[1] for s in samples]
    thirds = [max(part) for part in np.array_split(np.array(rss), 3) if len(part)]
    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; layerc threads per predict {r['layerc_threads']}",
        "",
        f"served: examples/mnist_convnet.py, max_arena_bytes {r['cap_mb']:g} MiB "
        f"({r['arena_floats']} floats a sample: chunks of {r['chunk']}; kept arenas "
        f"<= {r['budget'] / MB:g} MiB in all, none over {r['keep'] / MB:g} MiB), "
        f"{r['requests']} requests ({r['images']} images) from {r['threads']} pool threads; "
        f"beside it {r['streams']} streams of examples/streaming_gru.py, {r['steps']} calls "
        f"of 1-8 timesteps each, a thread each",
        "",
        "| what | count | wall s | throughput | p50 ms | p99 ms | max ms | outputs differing |",
        "|---|---|---|---|---|---|---|---|",
        f"| served requests | {r['requests']} | {r['served_wall']:.1f} | "
        f"{r['requests'] / r['served_wall']:.0f} req/s, {r['images'] / r['served_wall']:.0f} "
        f"images/s | {_ms(lat, 50)} | {_ms(lat, 99)} | {lat.max() * 1e3:.2f} | "
        f"{r['wrong']} of {r['requests']} |",
        f"| stream calls | {r['stream_calls']} | {r['wall']:.1f} | "
        f"{r['stream_timesteps'] / r['wall']:.0f} timesteps/s | {_ms(slat, 50)} | "
        f"{_ms(slat, 99)} | {slat.max() * 1e3:.2f} | {r['stream_wrong']} of "
        f"{r['stream_calls']} |" if len(slat) else "| stream calls | 0 | - | - | - | - | - | - |",
        "",
        f"RSS: peak {r['peak_mib']:.0f} MiB; the largest sample in each third of the run: "
        f"{', '.join(f'{m:.0f}' for m in thirds)} MiB (the pool's threads, each running in "
        f"an arena of up to the cap, and what malloc keeps for them)",
        "",
        "| t s | RSS MiB | served model's kept arenas MiB |",
        "|---|---|---|",
    ]
    lines += [f"| {t:.1f} | {m:.0f} | {k / MB:.2f} |" for t, m, k in shown]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="defaults of 4 threads, 2000 "
                    "requests, 2 streams of 200 calls: a few seconds")
    ap.add_argument("--threads", type=int, help="pool threads (16)")
    ap.add_argument("--requests", type=int, help="served requests (20000)")
    ap.add_argument("--streams", type=int, help="stateful streams (4)")
    ap.add_argument("--steps", type=int, help="calls per stream (1000)")
    ap.add_argument("--max-arena-mb", type=float, default=32.0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "soak.md"))
    args = ap.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    r = soak(args.threads, args.requests, args.streams, args.steps, args.max_arena_mb)
    text = report(r)
    print(text)
    Path(args.out).write_text(text)
    if r["wrong"] or r["stream_wrong"]:
        print("FAIL: outputs differ from single-threaded predict", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
