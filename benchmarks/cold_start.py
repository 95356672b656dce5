"""Cold start: how long a fresh process takes to import layerc, load an artifact
and predict once, and how long compiling each example takes.

    .venv/bin/python benchmarks/cold_start.py [--runs N] [--quick] [--out FILE]

For every example model (examples/*.py, each with `build_model()`):
  compile    a fresh process imports layerc, builds the model and compiles it
             with the kernel library already in the cache (the time of
             `layerc.compile` alone), then saves the artifact;
  warm load  N fresh processes run `import layerc; layerc.load(a).predict(x)`
             with the kernel library cached (the median of the time from the
             first line of the child to the end of predict, and of the
             whole process as the parent sees it);
  empty      one fresh process does the same with an empty LAYERC_CACHE_DIR,
             so the kernel library is compiled first (--quick: first example only).
`make bench` runs it after run.py and writes benchmarks/cold_start.md. Like the
tests, it leaves OPENBLAS_CORETYPE as it is: it measures start-up, not BLAS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The model examples (each defines build_model); examples/ also holds scripts that
# run one of them (dask_scoring.py).
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py")
                  if "def build_model" in p.read_text())

COMPILE = """
import json, runpy, sys, time
t0 = time.perf_counter()
import layerc
t1 = time.perf_counter()
model = runpy.run_path(sys.argv[1], run_name="bench")["build_model"]()
t2 = time.perf_counter()
compiled = layerc.compile(model)
t3 = time.perf_counter()
compiled.save(sys.argv[2])
print(json.dumps({"import": t1 - t0, "build": t2 - t1, "compile": t3 - t2}))
"""

LOAD = """
import time
t0 = time.perf_counter()
import json, sys
import layerc
from layerc.runtime.artifact import random_inputs
t1 = time.perf_counter()
model = layerc.load(sys.argv[1])
t2 = time.perf_counter()
model.predict(random_inputs(model))
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "predict": t3 - t2, "total": t3 - t0}))
"""


def child(code: str, *args: str, env: dict | None = None) -> tuple[dict, float]:
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=env, timeout=900)
    wall = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(args)}:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1]), wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="warm fresh processes per example")
    ap.add_argument("--quick", action="store_true",
                    help="2 warm runs; the empty-cache run for the first example only")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "cold_start.md"))
    args = ap.parse_args(argv)
    runs = 2 if args.quick else args.runs
    lines = [f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; times in seconds; warm = kernel library cached",
             "",
             "| example | compile (warm library) | warm: import | load | predict | "
             "in-process total | process wall | empty cache: process wall |",
             "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="layerc-cold-") as tmp:
        for i, path in enumerate(EXAMPLES):
            artifact = os.path.join(tmp, path.stem + ".lcz")
            compiled, _ = child(COMPILE, str(path), artifact)
            warm = [child(LOAD, artifact) for _ in range(runs)]
            med = {k: statistics.median(w[0][k] for w in warm) for k in warm[0][0]}
            wall = statistics.median(w[1] for w in warm)
            empty = "-"
            if not args.quick or i == 0:
                env = dict(os.environ, LAYERC_CACHE_DIR=os.path.join(tmp, f"cache-{i}"))
                empty = f"{child(LOAD, artifact, env=env)[1]:.2f}"
            row = (f"| {path.stem} | {compiled['compile']:.2f} | {med['import']:.3f} | "
                   f"{med['load']:.3f} | {med['predict']:.3f} | {med['total']:.3f} | "
                   f"{wall:.3f} | {empty} |")
            print(row, flush=True)
            lines.append(row)
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
