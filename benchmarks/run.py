"""Benchmarks layerc against ONNX Runtime, Keras and PyTorch, side by side.

    KERAS_BACKEND=torch .venv/bin/python benchmarks/run.py [--keep-env] [--threads LIST]
                                        [--case NAME] [--quick] [--rounds R] [--out FILE]

(`make bench` runs it.) For every case in case_factories() and each of its batch
sizes, all peers run in this one process on the same input; their outputs must
agree with layerc's (max abs diff <= 1e-4) before anything is timed, else it
exits non-zero. Prints a Markdown table of median times in microseconds and
layerc/peer ratios (< 1: layerc is faster) and writes it to
benchmarks/results.md. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402  (standard library only: safe before the re-exec)

PEER_ORDER = ["layerc", "onnxruntime", "keras.predict", "keras call", "torch eager"]


def case_factories() -> list:
    """The benchmarked models. To add one: write benchmarks/bench_<name>.py with
    a `case()` returning common.Case, and list it here."""
    import bench_cifar
    import bench_convnet
    import bench_lstm
    import bench_mlp
    import bench_stacked_gru
    import bench_streaming
    import bench_text_cnn
    import bench_text_lstm

    return [bench_mlp.case, bench_convnet.case, bench_cifar.case, bench_text_cnn.case,
            bench_text_lstm.case, bench_lstm.case, bench_stacked_gru.case,
            bench_streaming.case]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep-env", action="store_true",
                    help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (by default the "
                         "benchmark re-executes itself once with them unset)")
    ap.add_argument("--threads", default="default,1", metavar="LIST",
                    help="comma-separated thread settings to run, each 'default' (every "
                         "library's own default) or a count N given to every peer (BLAS and "
                         "OpenMP pools, torch, ONNX Runtime); default: 'default,1'")
    ap.add_argument("--case", action="append", default=None, metavar="NAME",
                    help="run only cases whose name contains NAME (repeatable)")
    ap.add_argument("--quick", action="store_true",
                    help="few, short rounds: a smoke run whose numbers are noisier")
    ap.add_argument("--rounds", type=int, default=None,
                    help="timed rounds per batch size (default 20, 4 with --quick)")
    ap.add_argument("--out", default=os.path.join(HERE, "results.md"),
                    help="where to write the Markdown results (default benchmarks/results.md)")
    args = ap.parse_args(argv)
    settings = []
    for item in args.threads.split(","):
        item = item.strip()
        if item == "default":
            settings.append(None)
        elif item.isdigit() and int(item) >= 1:
            settings.append(int(item))
        else:
            ap.error(f"--threads: {item!r} is neither 'default' nor a count >= 1")
    args.threads = list(dict.fromkeys(settings))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.reexec_without_blas_env(args.keep_env)  # before NumPy loads OpenBLAS
    os.environ.setdefault("KERAS_BACKEND", "torch")

    import tempfile

    import numpy as np

    import keras
    import layerc

    if keras.backend.backend() != "torch":
        raise SystemExit(f"FAIL: the harness needs KERAS_BACKEND=torch (its ONNX export and "
                         f"'keras call' peer use torch), got {keras.backend.backend()!r}")
    import torch

    settings = args.threads
    notes = []
    if not common.have_threadpoolctl() and any(t is not None for t in settings):
        notes.append("skipped thread counts " + ", ".join(str(t) for t in settings if t)
                     + ": " + common.THREADPOOLCTL_MISSING)
        settings = [None]

    rounds = args.rounds or (4 if args.quick else 20)
    slice_s = 0.01 if args.quick else 0.05
    warmup_s = 0.05 if args.quick else 0.3

    env_lines = (common.blas_env_report(args.keep_env) + common.machine_report()
                 + [f"versions: layerc {getattr(layerc, '__version__', '?')}, keras "
                    f"{keras.__version__} (backend {keras.backend.backend()}), torch "
                    f"{torch.__version__}"] + notes)
    for line in env_lines:
        print(line, flush=True)

    rows: list[common.Row] = []
    peer_notes: dict[str, str] = {}
    thread_lines: dict[str, list[str]] = {}
    check_lines: list[str] = []
    case_notes: list[str] = []  # peers a case leaves out, and why
    with tempfile.TemporaryDirectory(prefix="layerc-bench-") as workdir:
        for factory in case_factories():
            case = factory()
            if args.case and not any(s in case.name for s in args.case):
                continue
            print(f"\n## {case.name}", flush=True)
            compiled = layerc.compile(case.layerc_model)
            keras_model = case.build_keras()
            common.copy_weights_to_keras(case.layerc_model, keras_model)
            rng = np.random.default_rng(0)
            inputs = {b: case.make_input(b, rng) for b in case.batches}
            if case.stateful:  # a few step inputs for the agreement check
                check_rng = np.random.default_rng(1)
                steps = {b: [case.make_input(b, check_rng) for _ in range(case.check_steps)]
                         for b in case.batches}
            keras_model(inputs[case.batches[0]])  # keras's export wants a model that was called
            for line in case.notes:
                print(line, flush=True)
                case_notes.append(line)
            onnx_path = None
            if case.onnx_skip:
                line = f"{case.name}: onnxruntime left out: {case.onnx_skip}"
                print(line, flush=True)
                case_notes.append(line)
            else:
                onnx_path = common.export_onnx(
                    keras_model, workdir, "".join(c if c.isalnum() else "_" for c in case.name))

            def agree(b: int, peers: list) -> list[str]:
                if case.stateful:
                    return common.check_agreement_stateful(case.name, b, steps[b], peers)
                return common.check_agreement(case.name, b, inputs[b], peers)

            fixed_peers = [*common.keras_peers(keras_model)]
            if case.build_torch is not None:
                fixed_peers.append(common.torch_peer(case.build_torch(case.layerc_model)))

            # Pre-flight at the libraries' defaults: every peer runs once, so each
            # lazily loaded pool (scipy's BLAS behind numba's np.dot, ...) exists before
            # thread_setting limits the pools it finds.
            ort_default, session = common.ort_peer(onnx_path) if onnx_path else (None, None)
            if session is not None:
                for b in case.batches:
                    common.check_onnx_input(case.name, session, inputs[b])
            default_peers = [common.layerc_peer(compiled), *([ort_default] if ort_default
                                                            else []), *fixed_peers]
            for b in case.batches:
                agree(b, default_peers)
            del default_peers, ort_default, session

            for threads in settings:
                label = "default" if threads is None else str(threads)
                with common.thread_setting(threads):
                    ort_p, session = (common.ort_peer(onnx_path, threads) if onnx_path
                                      else (None, None))
                    peers = [common.layerc_peer(compiled), *([ort_p] if ort_p else []),
                             *fixed_peers]
                    for p in peers:
                        peer_notes.setdefault(p.name, p.note)
                    for b in case.batches:
                        for line in agree(b, peers):
                            line = f"{line} (threads {label})"
                            print(line, flush=True)
                            check_lines.append(line.strip())
                    if label not in thread_lines:  # every pool is loaded now
                        thread_lines[label] = common.thread_report(session)
                        print(f"threads {label}:", flush=True)
                        for line in thread_lines[label]:
                            print("  " + line, flush=True)

                    for b in case.batches:
                        x = inputs[b]
                        fns = {p.name: (lambda f=p.fn: f(x)) for p in peers}
                        times = common.time_peers(fns, rounds=rounds, slice_s=slice_s,
                                                  warmup_s=warmup_s)
                        for name, t in times.items():
                            print(f"  batch {b:>4} threads {label:<7} {name:<14} median "
                                  f"{t.median_us:>10.1f} us  p10 {t.p10_us:>10.1f}  p90 "
                                  f"{t.p90_us:>10.1f}  ({t.samples} blocks of {t.number} "
                                  f"calls)", flush=True)
                        rows.append(common.Row(case.name, b, label, times))
                    del session, ort_p, peers

    if not rows:
        raise SystemExit("FAIL: no case matched " + ", ".join(args.case or []))
    order = [p for p in PEER_ORDER if any(p in r.times for r in rows)]
    order += sorted({p for r in rows for p in r.times} - set(order))
    table = common.markdown_table(rows, order)
    print("\n" + table, flush=True)

    noisy = [f"{r.case} b{r.batch} t{r.threads} {p} ({t.spread:.0%})" for r in rows
             for p, t in r.times.items() if t.spread > 0.25]
    timing_line = (f"Timing: peers interleaved over {rounds} rounds; per round and peer a "
                   f"re-warm, then about {slice_s * 1e3:.0f} ms of timed blocks (each >= 50 us "
                   f"of back-to-back calls) after a {warmup_s} s warm-up; time.perf_counter, "
                   f"GC off; the table shows the median per-call time over all blocks.")
    body = [
        "# layerc benchmarks", "",
        "Median time of one call, in microseconds (lower is better); `layerc/peer` < 1 means "
        "layerc is faster. All peers run in one process on the same inputs, after their "
        "outputs were checked against layerc's (max abs diff <= 1e-4). `threads`: "
        "`default` is every library's own default; `1` limits every peer to one thread. "
        "Written by `make bench` (benchmarks/run.py); see benchmarks/README.md.", "",
        table, "",
        "## Peers", "",
        *[f"- **{name}**: {note}" for name, note in peer_notes.items()],
        *[f"- {line}" for line in case_notes], "",
        "## Environment", "",
        *[f"- {line}" for line in env_lines],
        *[f"- threads {label}: {line}" for label, lines in thread_lines.items()
          for line in lines], "",
        "## Agreement with layerc", "",
        *[f"- {line}" for line in check_lines], "",
        timing_line,
    ]
    if noisy:
        body += ["", "Noisy (p90 - p10 more than 25 % of the median; rerun before relying on "
                 "them): " + ", ".join(noisy)]
        print("\nnoisy: " + ", ".join(noisy), flush=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(body) + "\n")
    print(f"\nwrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
