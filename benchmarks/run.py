"""Benchmarks layerc against ONNX Runtime, Keras and PyTorch, side by side.

    KERAS_BACKEND=torch .venv/bin/python benchmarks/run.py [--keep-env] [--threads LIST]
                                        [--case NAME] [--quick] [--rounds R] [--out FILE]
                                        [--no-busy] [--no-sweep] [--sweep-budget S]

(`make bench` runs it.) For every case in case_factories() and each of its batch
sizes, all peers run in this one process on the same input; their outputs must
agree with layerc's (max abs diff <= 1e-4) before anything is timed, else it
exits non-zero. Prints a Markdown table of median times in microseconds and
layerc/peer ratios (< 1: layerc is faster), layerc/best peer included, and
writes it to benchmarks/results.md. Then, unless turned off, the busy-core rows
(layerc and ONNX Runtime with one core kept busy by another process, against
quiet) and the batch sweep (1 to 256), with ratios.png and batch_sweep.png next
to results.md. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

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
    import bench_resnet_bn
    import bench_stacked_gru
    import bench_streaming
    import bench_text_cnn
    import bench_text_lstm
    import bench_transformer

    return [bench_mlp.case, bench_convnet.case, bench_cifar.case, bench_resnet_bn.case,
            bench_resnet_bn.case_unfolded, bench_text_cnn.case,
            bench_text_lstm.case, bench_lstm.case, bench_stacked_gru.case,
            bench_streaming.case, bench_transformer.case, bench_transformer.case_long]


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
                    help="where to write the Markdown results (default benchmarks/results.md); "
                         "the charts go to the same folder")
    ap.add_argument("--busy", action=argparse.BooleanOptionalAction, default=True,
                    help="busy-core rows: layerc and ONNX Runtime at threads 'default', "
                         "quiet and with one core kept busy by a spinning process (on by "
                         "default, as make bench runs it; --no-busy skips them)")
    ap.add_argument("--sweep", action=argparse.BooleanOptionalAction, default=True,
                    help="batch sweep 1, 2, 4, ..., 256 of layerc and ONNX Runtime at threads "
                         "'default', drawn in batch_sweep.png (on by default, as make bench "
                         "runs it; --no-sweep skips it)")
    ap.add_argument("--sweep-budget", type=float, default=None, metavar="S",
                    help="seconds of sweep per model; larger batches are left out once it is "
                         "spent (default 20, 6 with --quick)")
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
    timing = {"rounds": rounds, "slice_s": slice_s, "warmup_s": warmup_s}
    max_peer_s = 5.0  # main table: slow peers (Keras on the big models) sit out some rounds
    sweep_budget = args.sweep_budget or (6.0 if args.quick else 20.0)

    env_lines = (common.blas_env_report(args.keep_env) + common.machine_report()
                 + [f"versions: layerc {getattr(layerc, '__version__', '?')}, keras "
                    f"{keras.__version__} (backend {keras.backend.backend()}), torch "
                    f"{torch.__version__}",
                    "layerc threads: LAYERC_NUM_THREADS="
                    + os.environ.get("LAYERC_NUM_THREADS", "(unset)") + "; layerc.compile "
                    + ("takes threads=N: the rows with a thread count compile with it"
                       if common.compile_accepts_threads() else
                       "takes no threads keyword (yet): every row compiles with "
                       "layerc.compile(model)")] + notes)
    for line in env_lines:
        print(line, flush=True)

    rows: list[common.Row] = []
    busy_rows: list[common.BusyRow] = []
    sweeps: list[common.Sweep] = []
    peer_notes: dict[str, str] = {}
    thread_lines: dict[str, list[str]] = {}
    check_lines: list[str] = []
    case_notes: list[str] = []  # peers a case leaves out, and why
    busy_use: list[float] = []  # share of a core the spinner got, per busy run
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="layerc-bench-") as workdir:
        for factory in case_factories():
            case = factory()
            if args.case and not any(s in case.name for s in args.case):
                continue
            print(f"\n## {case.name}", flush=True)
            case_started = time.perf_counter()
            compiled, how = common.compile_layerc(case.layerc_model, None, case.passes)
            keras_model = case.build_keras()
            common.copy_weights_to_keras(case.layerc_model, keras_model)
            rng = np.random.default_rng(0)
            inputs = {b: case.make_input(b, rng) for b in case.batches}
            steps = {}
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

            def agree(b: int, peers: list, case: common.Case = case,
                      inputs: dict = inputs, steps: dict = steps) -> list[str]:
                if case.stateful:
                    return common.check_agreement_stateful(case.name, b, steps[b], peers)
                return common.check_agreement(case.name, b, inputs[b], peers)

            fixed_peers = [*common.keras_peers(keras_model)]
            torch_p = None
            if case.build_torch is not None:
                torch_p = common.torch_peer(case.build_torch(case.layerc_model))
                fixed_peers.append(torch_p)

            # Pre-flight at the libraries' defaults: every peer runs once, so each
            # lazily loaded pool (scipy's BLAS behind numba's np.dot, ...) exists before
            # thread_setting limits the pools it finds.
            ort_default, session = common.ort_peer(onnx_path) if onnx_path else (None, None)
            if session is not None:
                for b in case.batches:
                    common.check_onnx_input(case.name, session, inputs[b])
            default_peers = [common.layerc_peer(compiled, how),
                             *([ort_default] if ort_default else []), *fixed_peers]
            for b in case.batches:
                agree(b, default_peers)
            del default_peers, ort_default, session

            for threads in settings:
                label = "default" if threads is None else str(threads)
                with common.thread_setting(threads):
                    compiled_t, how_t = ((compiled, how) if threads is None else
                                         common.compile_layerc(case.layerc_model, threads,
                                                               case.passes))
                    ort_p, session = (common.ort_peer(onnx_path, threads) if onnx_path
                                      else (None, None))
                    peers = [common.layerc_peer(compiled_t, how_t), *([ort_p] if ort_p else []),
                             *fixed_peers]
                    for p in peers:
                        peer_notes.setdefault(p.name, p.note)
                    if threads is not None and how_t != how:
                        peer_notes.setdefault(f"layerc (threads {label})", peers[0].note)
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
                        fns = {p.name: (lambda f=p.fn, x=x: f(x)) for p in peers}
                        times = common.time_peers(fns, **timing, max_peer_s=max_peer_s)
                        for name, t in times.items():
                            print(f"  batch {b:>4} threads {label:<7} {name:<14} median "
                                  f"{t.median_us:>10.1f} us  p10 {t.p10_us:>10.1f}  p90 "
                                  f"{t.p90_us:>10.1f}  ({t.samples} blocks of {t.number} "
                                  f"calls)", flush=True)
                        rows.append(common.Row(case.name, b, label, times))
                    del session, ort_p, peers

            # The busy-core rows and the sweep run at the libraries' defaults, where
            # a busy core matters (every pool has one thread per core).
            peer_quiet = (common.ort_peer(onnx_path)[0] if onnx_path else torch_p)
            if args.busy and peer_quiet is not None:
                layerc_quiet = common.layerc_peer(compiled, how)
                layerc_alone = common.layerc_peer(
                    common.compile_layerc(case.layerc_model, 1, case.passes)[0])
                busy_timing = {**timing, "rounds": max(4, rounds // 2)}
                for b in [b for b in case.batches if b in (1, 64)] or list(case.batches):
                    row, use = busy_row(case, b, inputs[b], layerc_quiet, layerc_alone,
                                        peer_quiet, busy_timing)
                    busy_rows.append(row)
                    if use is not None:
                        busy_use.append(use)
            if args.sweep and onnx_path and not case.stateful:
                sweeps.append(sweep_case(case, common.layerc_peer(compiled, how),
                                         common.ort_peer(onnx_path)[0], sweep_budget,
                                         quick=args.quick))
            print(f"({case.name}: {time.perf_counter() - case_started:.0f} s)", flush=True)

    if not rows:
        raise SystemExit("FAIL: no case matched " + ", ".join(args.case or []))
    order = [p for p in PEER_ORDER if any(p in r.times for r in rows)]
    order += sorted({p for r in rows for p in r.times} - set(order))
    table = common.markdown_table(rows, order)
    print("\n" + table, flush=True)

    noisy = [f"{r.case} b{r.batch} t{r.threads} {p} ({t.spread:.0%})" for r in rows
             for p, t in r.times.items() if t.spread > 0.25]
    timing_line = (f"Timing: peers interleaved over {rounds} rounds; per round and peer a "
                   f"re-warm (none for calls over 10 ms), then about {slice_s * 1e3:.0f} ms of "
                   f"timed blocks (each >= 50 us of back-to-back calls, at least one call) after "
                   f"a {warmup_s} s warm-up; a peer whose slices would take over "
                   f"{max_peer_s:.0f} s in all joins every k-th round only (in 4 rounds at "
                   f"least); time.perf_counter, GC off; the table shows the median per-call time "
                   f"over all blocks. After every warm-up and slice the run waits until the "
                   f"threads a peer left spinning stop (at most 0.25 s; the longest waits: "
                   + (", ".join(f"{peer} {waited * 1e3:.0f} ms" for peer, waited in
                                sorted(common.SETTLED.items(), key=lambda kv: -kv[1]))
                      or "none measured: no /proc")
                   + "), so the next peer starts on idle cores as in a process of its own.")
    body = [
        "# layerc benchmarks", "",
        "Median time of one call, in microseconds (lower is better); `layerc/peer` < 1 means "
        "layerc is faster; `best peer` is the fastest of the other peers in that row. All "
        "peers run in one process on the same inputs, after their outputs were checked "
        "against layerc's (max abs diff <= 1e-4). `threads`: `default` is every library's "
        "own default; `1` limits every peer to one thread. Written by `make bench` "
        "(benchmarks/run.py); see benchmarks/README.md.", "",
        table, "",
    ]
    out_dir = os.path.dirname(os.path.abspath(args.out))
    charts_written = write_charts(rows, sweeps, out_dir)
    if "ratios.png" in charts_written:
        body += ["![layerc / best peer per model and batch](ratios.png)", ""]
    if busy_rows:
        busy_table = common.busy_table(busy_rows)
        print("\n" + busy_table, flush=True)
        use = (f"; the spinner got {min(busy_use):.0%}-{max(busy_use):.0%} of a core while on"
               if busy_use else "")
        body += [
            "## Busy core", "",
            "Threads `default`, another process keeping one core busy (a Python "
            "`while True: pass`, pinned to the last usable core, switched on and off by the "
            "benchmark) against quiet; "
            "`busy/quiet` is each library's slowdown: busy against quiet within each round "
            "(the median over rounds; in brackets the quartiles). Quiet and busy slices are "
            f"interleaved in every round ({max(4, rounds // 2)} rounds){use}. `busy / 1 thread "
            "quiet`: layerc busy against layerc compiled with threads=1 on the quiet machine "
            "(above 1: the shared core cost more than the second thread gains). `rounds "
            "layerc slowed less`: the rounds where layerc's busy/quiet was at most the "
            "peer's. The peer is ONNX Runtime, or torch eager where ONNX Runtime is left out.",
            "",
            busy_table, "",
        ]
    if sweeps:
        sweep_table = common.sweep_table(sweeps)
        body += [
            "## Batch sweep", "",
            "Threads `default`; median time per call divided by the batch, layerc against "
            "ONNX Runtime (stateful models left out). Few, short rounds per point, and a "
            f"budget of {sweep_budget:.0f} s per model: rougher than the table above.", "",
            *(["![time per sample against batch size](batch_sweep.png)", ""]
              if "batch_sweep.png" in charts_written else []),
            *[f"- {s.note}" for s in sweeps if s.note],
            *([""] if any(s.note for s in sweeps) else []),
            sweep_table, "",
        ]
    body += [
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
        f"The run took {time.perf_counter() - started:.0f} s.",
    ]
    if noisy:
        body += ["", "Noisy (p90 - p10 more than 25 % of the median; rerun before relying on "
                 "them): " + ", ".join(noisy)]
        print("\nnoisy: " + ", ".join(noisy), flush=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(body) + "\n")
    print(f"\nwrote {args.out}" + "".join(f", {os.path.join(out_dir, c)}"
                                          for c in charts_written), flush=True)
    print(f"total {time.perf_counter() - started:.0f} s", flush=True)
    return 0


def busy_row(case: common.Case, batch: int, x: Any, ours: common.Peer, alone: common.Peer,
             theirs: common.Peer, timing: dict[str, Any]) -> tuple[common.BusyRow, float | None]:
    """Times layerc and one peer on x, quiet and with one core kept busy, and
    layerc compiled for one thread (`alone`), quiet, the five interleaved in
    every round; returns the row and the share of a core the spinner got
    while on."""
    fns = {f"{p.name}|{state}": (lambda f=p.fn, x=x: f(x))
           for state in ("quiet", "busy") for p in (ours, theirs)}
    fns[f"{common.BusyRow.ALONE}|quiet"] = lambda f=alone.fn, x=x: f(x)
    with common.BusyCore() as busy:
        times = common.time_peers(fns, **timing,
                                  before=lambda name: busy.set(name.endswith("|busy")))
    row = common.BusyRow(case.name, batch, theirs.name, times)
    less, of = row.rounds_slowed_less(ours.name)
    print(f"  batch {batch:>4} busy core: {ours.name} busy/quiet {row.slowdown(ours.name):.2f} "
          f"({times[ours.name + '|quiet'].median_us:.1f} -> "
          f"{times[ours.name + '|busy'].median_us:.1f} us; one thread quiet "
          f"{times[common.BusyRow.ALONE + '|quiet'].median_us:.1f}), {theirs.name} "
          f"{row.slowdown(theirs.name):.2f} ({times[theirs.name + '|quiet'].median_us:.1f} -> "
          f"{times[theirs.name + '|busy'].median_us:.1f} us); {ours.name} slowed less in "
          f"{less} of {of} rounds", flush=True)
    return row, busy.utilisation()


SWEEP_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def sweep_case(case: common.Case, ours: common.Peer, theirs: common.Peer, budget_s: float,
               quick: bool) -> common.Sweep:
    """Times layerc and one peer at every batch of SWEEP_BATCHES (few, short
    rounds), checking agreement at each; stops before a batch that would end
    past `budget_s` if it cost twice the previous one."""
    import numpy as np

    rng = np.random.default_rng(2)
    points: dict[int, dict[str, common.Timing]] = {}
    note = ""
    start = last = time.perf_counter()
    last_cost = 0.0
    for b in SWEEP_BATCHES:
        if last - start + 2 * last_cost > budget_s:
            note = (f"{case.name}: sweep stopped before batch {b}: its {budget_s:.0f} s "
                    f"budget would be spent")
            print("  " + note, flush=True)
            break
        x = case.make_input(b, rng)
        common.check_agreement(case.name, b, x, [ours, theirs])
        fns = {p.name: (lambda f=p.fn, x=x: f(x)) for p in (ours, theirs)}
        points[b] = common.time_peers(fns, rounds=2 if quick else 3, slice_s=0.01 if quick
                                      else 0.02, warmup_s=0.02 if quick else 0.05)
        now = time.perf_counter()
        last, last_cost = now, now - last
        t_ours, t_theirs = points[b][ours.name].median_us, points[b][theirs.name].median_us
        print(f"  sweep batch {b:>4}: {ours.name} {t_ours / b:>9.1f} us/sample, {theirs.name} "
              f"{t_theirs / b:>9.1f} us/sample ({t_ours / t_theirs:.2f})", flush=True)
    return common.Sweep(case.name, theirs.name, points, note)


def write_charts(rows: list[common.Row], sweeps: list[common.Sweep], out_dir: str) -> list[str]:
    """ratios.png and (with a sweep) batch_sweep.png in out_dir; returns the
    names written. Without matplotlib, says so and writes none."""
    try:
        import charts
    except ImportError as err:
        print(f"charts not written: {err} (matplotlib is pinned in the bench extra)",
              flush=True)
        return []
    written = ["ratios.png"]
    charts.write_ratio_chart(rows, os.path.join(out_dir, "ratios.png"))
    if sweeps:
        charts.write_sweep_chart(sweeps, os.path.join(out_dir, "batch_sweep.png"))
        written.append("batch_sweep.png")
    return written


if __name__ == "__main__":
    sys.exit(main())
