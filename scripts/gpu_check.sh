#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: run layerc's CUDA tests for real (no
# simulator), then time the example models on target cuda, target cpu and
# PyTorch on CUDA (where the benchmark case has a PyTorch module). Writes a
# markdown report to $OUT/gpu_check.md when $OUT is set, else to stdout.
# Budget: under 8 minutes (install <= ~3, tests <= 4, benchmarks <= 3; each step has a
# timeout).
#
#   scripts/gpu_check.sh              # from the repository root
#   VENV=/path/to/venv scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
VENV=${VENV:-${TMPDIR:-/tmp}/layerc-gpu-venv}
REPORT=$(mktemp)
note() { echo "$*" >> "$REPORT"; }

# ----- environment: a venv with layerc[cuda] and the test tools -----------------------------
# (not the whole [test] extra: the CUDA tests need neither Keras nor torch, and a
# CUDA build of torch is gigabytes; it is tried afterwards, within a time limit.)
if ! "$VENV/bin/python" -c "import layerc, numba.cuda, pytest, hypothesis" 2>/dev/null; then
    python3 -m venv "$VENV" || exit 1
    "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1
    if ! "$VENV/bin/pip" install -q -e '.[cuda]' pytest==9.0.3 hypothesis==6.155.2; then
        note "pip install -e '.[cuda]' failed (no package index reachable?); set VENV to a"
        note "venv that has layerc[test,cuda] installed"
        [ -n "${OUT:-}" ] && mkdir -p "$OUT" && cp "$REPORT" "$OUT/gpu_check.md"
        cat "$REPORT"
        exit 1
    fi
fi
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    timeout 150 "$VENV/bin/pip" install -q torch==2.13.0 >/dev/null 2>&1 \
        || TORCH_NOTE="torch could not be installed in 150 s: no PyTorch column"
fi
PY="$VENV/bin/python"

note "# layerc CUDA check"
note ""
[ -n "${TORCH_NOTE:-}" ] && note "- $TORCH_NOTE"
note "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
note "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not found')"
note "- $("$PY" -c 'import numba, numba.cuda as c; print("numba", numba.__version__, "/ numba.cuda", getattr(c, "implementation", "?"), "/ device", c.get_current_device().name.decode() if isinstance(c.get_current_device().name, bytes) else c.get_current_device().name)' 2>&1 | tail -1)"
note ""

# ----- the CUDA tests on the device ----------------------------------------------------------
note "## Tests (tests/codegen/cuda, LAYERC_CUDA_DEVICE=1: no simulator)"
note ""
LAYERC_CUDA_DEVICE=1 timeout 240 "$PY" -m pytest -q -p no:cacheprovider tests/codegen/cuda \
    > /tmp/gpu_check_tests.log 2>&1
TESTS_RC=$?
note '```'
tail -n 25 /tmp/gpu_check_tests.log >> "$REPORT"
note '```'
note "pytest exit status: $TESTS_RC"
note ""

# ----- benchmarks: examples on cuda vs cpu vs torch-cuda -------------------------------------
note "## Example models: median time per predict (ms)"
note ""
timeout 180 "$PY" - >> "$REPORT" 2>/tmp/gpu_check_bench.err <<'PYEOF'
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, "benchmarks")
import layerc  # noqa: E402

CASES = ["bench_mlp", "bench_convnet", "bench_text_cnn", "bench_lstm", "bench_streaming"]


def median_ms(fn, x, budget=1.0, least=5):
    fn(x)  # warm: compile, upload, allocate
    times, spent = [], 0.0
    while len(times) < least or (spent < budget and len(times) < 200):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
        spent += times[-1]
    return 1000 * statistics.median(times)


def torch_cuda(case):
    if case.build_torch is None:
        return None
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        module = case.build_torch(case.layerc_model).cuda().eval()

        def run(x):
            with torch.no_grad():
                y = module(torch.from_numpy(x).cuda())
                return y.cpu().numpy()  # includes the copies, as layerc's predict does
        return run
    except Exception as err:  # noqa: BLE001
        print(f"<!-- torch peer failed for {case.name}: {err} -->")
        return None


print("| model | batch | layerc cuda | layerc cpu | torch cuda | max abs cuda-cpu |")
print("|---|---|---|---|---|---|")
for name in CASES:
    try:
        case = __import__(name).case()
        cpu = layerc.compile(case.layerc_model, target="cpu")
        t0 = time.perf_counter()
        gpu = layerc.compile(case.layerc_model, target="cuda")
        compile_s = time.perf_counter() - t0
        peer = torch_cuda(case)
        first_s = None
        for batch in case.batches:
            x = case.make_input(batch, np.random.default_rng(0))
            if first_s is None:  # Numba compiles each kernel on its first launch
                t0 = time.perf_counter()
                gpu.predict(x)
                first_s = time.perf_counter() - t0
            diff = float(np.max(np.abs(np.asarray(gpu.predict(x)) - np.asarray(cpu.predict(x)))))
            cells = [median_ms(gpu.predict, x), median_ms(cpu.predict, x)]
            cells.append(median_ms(peer, x) if peer is not None else None)
            shown = " | ".join("-" if c is None else f"{c:.3f}" for c in cells)
            print(f"| {case.name} | {batch} | {shown} | {diff:.2e} |", flush=True)
        print(f"<!-- {case.name}: layerc.compile(target='cuda') {compile_s:.2f} s; first "
              f"predict {first_s:.2f} s (kernel JIT, once per process) -->")
    except Exception as err:  # noqa: BLE001
        print(f"| {name} | - | failed: {type(err).__name__}: {str(err)[:120]} | | | |",
              flush=True)
PYEOF
BENCH_RC=$?
if [ -s /tmp/gpu_check_bench.err ]; then
    note ""
    note "benchmark stderr (tail):"
    note '```'
    tail -n 15 /tmp/gpu_check_bench.err >> "$REPORT"
    note '```'
fi
note ""
note "Stateful models reset nothing between timed calls (states advance, same cost)."
note "bench exit status: $BENCH_RC; total $(( $(date +%s) - START )) s"

if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT" && cp "$REPORT" "$OUT/gpu_check.md" && echo "wrote $OUT/gpu_check.md"
else
    cat "$REPORT"
fi
[ "$TESTS_RC" -eq 0 ] && [ "$BENCH_RC" -eq 0 ]
