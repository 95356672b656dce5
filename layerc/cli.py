"""The `layerc` command line (also `python -m layerc`).

MODEL is `file.py[:name]` (a model, or a function returning one), a `.keras`
file, a legacy Keras `.h5` file, or an artifact written by `layerc compile` / `CompiledModel.save`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np

from layerc.codegen import TARGETS
from layerc.errors import ConfigError, InputError, LayercError


def _key(path: str | None) -> bytes | None:
    """The signing key in the file a --key-file / --sign-key-file option
    names (None: LAYERC_SIGNING_KEY_FILE's, if set, applies)."""
    from layerc.runtime.signing import key_from_file

    return None if path is None else key_from_file(path)


def _compiled(spec: str, target: str | None = None, variable_ok: bool = False,
              key_file: str | None = None) -> Any:
    """The model named by `spec`, compiled (an artifact is loaded as it is,
    its signature checked with the key in `key_file` or the environment's)."""
    from layerc.compiler import compile
    from layerc.model_file import load_source
    from layerc.runtime import CompiledModel
    from layerc.runtime.variable import ShapeSpecializedModel

    source = load_source(spec, target, _key(key_file))
    loaded = isinstance(source, (CompiledModel, ShapeSpecializedModel))
    compiled = source if loaded else compile(source, target or "cpu")
    return compiled if variable_ok else _fixed(spec, compiled)


def _fixed(spec: str, compiled: Any) -> Any:
    """The compiled model, unless its inputs have unknown sizes: the CLI
    inspects and runs fixed-size models (and compiles both kinds)."""
    from layerc.runtime.variable import ShapeSpecializedModel

    if isinstance(compiled, ShapeSpecializedModel):
        raise ConfigError(f"{spec}: the model's inputs have unknown sizes besides the batch; "
                          f"this command works on fixed sizes (give the inputs their sizes; "
                          f"predict from Python specializes per shape)")
    return compiled


def _dump(args: argparse.Namespace) -> None:
    from layerc import ir
    from layerc.codegen import build
    from layerc.compiler import optimize
    from layerc.model_file import load_source
    from layerc.passes import DumpToFolder, PrintAfter, by_name, default_pipeline
    from layerc.runtime import CompiledModel

    if args.print_after_all and args.format != "text":
        raise ConfigError("--print-after-all prints text; leave out --format")
    source = load_source(args.model, key=_key(args.key_file))
    if isinstance(source, CompiledModel):
        if args.after or args.print_after_all or args.no_passes or args.dump_dir:
            raise ConfigError(f"{args.model}: an artifact holds only the optimized graph; "
                              f"dump the model it was compiled from to see the passes")
        graph = source.graph
    else:
        graph = source.to_graph()
        passes = default_pipeline()
        if args.no_passes:
            passes = ()
        elif args.after:
            try:
                last = by_name(args.after)
            except KeyError as err:
                raise ConfigError(err.args[0]) from None
            passes = passes[: passes.index(last) + 1]
        instruments: list[Any] = []
        if args.print_after_all:
            instruments.append(PrintAfter(None, sys.stdout))
            sys.stdout.write("# traced\n" + ir.to_text(graph))
        if args.dump_dir:
            folder = Path(args.dump_dir)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "00-traced.txt").write_text(ir.to_text(graph))
            instruments.append(DumpToFolder(folder))
        graph, _ = optimize(graph, passes, instruments)
        if args.print_after_all:
            return
    if args.format == "text":
        sys.stdout.write(ir.to_text(graph, locations=args.locations))
    elif args.format == "json":
        sys.stdout.write(json.dumps(ir.to_json(graph), indent=1) + "\n")
    elif args.format == "dot":
        sys.stdout.write(ir.to_dot(graph))
    else:  # plan
        sys.stdout.write(build(graph, "cpu").text)


def _compile(args: argparse.Namespace) -> None:
    from layerc.runtime.signing import signing_key

    sign = signing_key(_key(args.sign_key_file))  # before compiling: a bad key fails fast
    model = _compiled(args.model, args.target, variable_ok=True,  # loaded for --target
                      key_file=args.key_file)
    model.save(args.output, key=sign)
    size = Path(args.output).stat().st_size
    print(f"{args.output}: {model.graph.name} for {model.target}, {size} bytes, "
          f"{_params(model.graph):,} parameters, self-test recorded"
          f"{', signed' if sign is not None else ''}")


def _params(graph: Any) -> int:
    return sum(int(np.prod(w.shape)) for w in graph.weights.values())


def _kernels(program_text: str) -> dict[str, str]:
    """node id -> the kernels its plan rows run (with their variant flags)."""
    kernels: dict[str, list[str]] = {}
    for line in program_text.splitlines():
        if line.startswith(";") or "; %" not in line:
            continue
        row, _, node = line.rpartition("; %")
        words = row.split()
        flags = [w for w in words[1:] if w.split("=")[0] in ("act", "variant", "rows")]
        kernels.setdefault(node.strip(), []).append(" ".join(words[:1] + flags))
    return {node: " + ".join(rows) for node, rows in kernels.items()}


def _inspect(args: argparse.Namespace) -> None:
    from layerc import ir
    from layerc.model_file import load_source
    from layerc.runtime import CompiledModel
    from layerc.runtime.artifact import random_inputs
    from layerc.runtime.signing import signing_key

    from layerc.compiler import compile

    key = _key(args.key_file)
    source = load_source(args.model, key=key)
    is_artifact = isinstance(source, CompiledModel)
    model = source if is_artifact else _fixed(args.model, compile(source))
    if args.html:
        _write_html(model, args.html)
        return
    graph = model.graph
    kernels = _kernels(model.program.text)
    out = sys.stdout
    out.write(f"model {graph.name}: target {model.target}, {_params(graph):,} parameters\n")
    for name, t in model.input_specs:
        out.write(f"  input  {name}: {t}\n")
    for name, t in model.output_specs:
        out.write(f"  output {name}: {t}\n")
    out.write("\nnodes (after the passes):\n")
    rows = [("node", "op", "layer", "output", "params", "kernel")]
    for node in graph.nodes():
        params = sum(int(np.prod(graph.weights[w].shape)) for w in node.weights)
        rows.append((f"%{node.id}", node.op.value, node.layer or "-",
                     " ".join(str(t) for t in node.types), str(params) if params else "-",
                     kernels.get(node.id, "view" if node.op.value != "input" else "-")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        out.write("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] + "\n")
    out.write("\npasses applied (rewrites, then what changed):\n")
    changes = dict(model.pass_changes)
    for name, changed in model.passes_applied:
        out.write(f"  {name:20s} {changed}\n")
        for line in changes.get(name, ()):
            out.write(f"      {line}\n")
    plan = graph.memory_plan
    if plan is not None:
        saved = 100 * (1 - plan.arena_size / plan.naive_size) if plan.naive_size else 0.0
        out.write(f"\narena: {plan.arena_size} floats per sample planned against a naive "
                  f"{plan.naive_size} ({saved:.0f}% saved); program: "
                  f"{model.program.arena_size} with kernel scratch\n")
    if is_artifact:
        checked = key is not None or signing_key() is not None
        out.write("signature: " + ("checked with the key\n" if checked else
                                   "not checked (no key: --key-file or "
                                   "LAYERC_SIGNING_KEY_FILE)\n"))
        out.write("self-test: passed (re-run on load)\n")
    else:
        xs = random_inputs(model)
        want = ir.interpret(graph, xs)
        got = model.predict(xs)
        got = got if isinstance(got, list) else [got]
        model.reset_states()
        diff = max(float(np.max(np.abs(g - w))) for g, w in zip(got, want))
        out.write(f"self-test: compiled now; max |compiled - reference interpreter| = "
                  f"{diff:.3g} on a random input\n")


def _write_html(model: Any, path: str) -> None:
    """The page of `layerc.html`, written atomically; prints its path (so a
    script can open it)."""
    from layerc import html

    page = html.render(model).encode()
    _write_atomically(path, lambda f: f.write(page))
    print(path)


def _load_input(path: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"input {path}: no such file") from None
    except (ValueError, OSError) as err:
        raise InputError(f"input {path}: not a .npy array ({err})") from None


def _run(args: argparse.Namespace) -> None:
    model = _compiled(args.model, key_file=args.key_file)
    xs = [_load_input(p) for p in args.input]
    names = [n for n, _ in model.input_specs]
    if len(xs) != len(names):
        raise InputError(f"{args.model} takes {len(names)} input(s) ({', '.join(names)}); "
                         f"got {len(xs)} --input file(s)")
    outs = model.predict(xs, batch_size=args.batch_size)
    outs = outs if isinstance(outs, list) else [outs]
    out_names = _unique([n for n, _ in model.output_specs])
    npz = args.output is not None and args.output.lower().endswith(".npz")
    if args.output is None:
        for name, y in zip(out_names, outs):
            print(f"{name}: shape {y.shape}\n{np.array2string(y, threshold=60)}")
    elif len(outs) == 1 and not npz:
        _write_atomically(args.output, lambda f: np.save(f, outs[0]))
    elif npz:
        _write_atomically(args.output, lambda f: np.savez(f, **dict(zip(out_names, outs))))
    else:
        raise ConfigError(f"{args.model} has {len(outs)} outputs ({', '.join(out_names)}); "
                          f"give --output a .npz name to write them all")


def _unique(names: list[str]) -> list[str]:
    """Output names as keys: a tensor listed twice gets `name_1`, ..."""
    seen: dict[str, int] = {}
    keys = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        keys.append(name if count == 0 else f"{name}_{count}")
    return keys


def _write_atomically(path: str, write: Any) -> None:
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        tmp.replace(target)
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        tmp.unlink(missing_ok=True)


PROFILE_ROUNDS = 100  # at most, for `bench --profile`


def _bench(args: argparse.Namespace) -> None:
    from layerc.runtime.artifact import random_inputs

    if not args.seconds > 0:  # also refuses nan
        raise ConfigError(f"--seconds must be a positive number, got {args.seconds}")
    started = time.perf_counter()
    model = _compiled(args.model, args.target, key_file=args.key_file)
    ready = time.perf_counter()
    xs = random_inputs(model, args.batch_size)
    batch = xs[0].shape[0]
    model.predict(xs)  # the first call allocates the arena (and checks the batch)
    times: list[float] = []
    deadline = time.perf_counter() + args.seconds
    shown = time.perf_counter()
    progressed = False
    while time.perf_counter() < deadline or len(times) < 5:
        t0 = time.perf_counter()
        model.predict(xs)
        times.append(time.perf_counter() - t0)
        if t0 - shown > 1.0:
            shown, progressed = t0, True
            print(f"\r  {len(times)} runs, median {np.median(times) * 1e3:.3f} ms ...",
                  end="", file=sys.stderr, flush=True)
    if progressed:
        print(file=sys.stderr)
    median = float(np.median(times))
    print(f"{model.graph.name} on {model.target}, batch {batch}: {len(times)} runs, "
          f"median {median * 1e3:.3f} ms, p90 {np.percentile(times, 90) * 1e3:.3f} ms, "
          f"{batch / median:,.0f} samples/s (compile/load {ready - started:.2f} s)")
    if args.profile:
        # About as long again as the latency run, within 5 to 100 rounds.
        rounds = int(min(max(args.seconds / max(median, 1e-9), 5), PROFILE_ROUNDS))
        print("\n" + model.profile(xs, rounds=rounds).table(), end="")


def _warmup(args: argparse.Namespace) -> None:
    from layerc.codegen.cpu import build
    from layerc.codegen.cpu.cache import library_path

    started = time.perf_counter()
    built = build.warm_up(progress=not args.quiet)
    seconds = time.perf_counter() - started
    done = f"built {built} CPU kernel(s) in {seconds:.0f} s" if built else \
        "every CPU kernel was already built"
    print(f"layerc: {done}; the kernel library is cached in {library_path()}")


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="layerc", description="Compile Keras-style models.")
    top.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    # --debug also after the command (SUPPRESS: absent there, the top level's value stays)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks on errors")
    sub = top.add_subparsers(dest="command", required=True)
    model_help = "file.py[:name] (a model or a function returning one), a .keras or " \
                 "legacy .h5 file, or an artifact"
    # Commands that may load an artifact check its signature with this key
    # (default: the file LAYERC_SIGNING_KEY_FILE names, if set).
    keyed = argparse.ArgumentParser(add_help=False)
    keyed.add_argument("--key-file", metavar="KEY",
                       help="check an artifact's signature with the key in this file "
                            "(default: $LAYERC_SIGNING_KEY_FILE; LAYERC_REQUIRE_SIGNATURE=1 "
                            "refuses unsigned artifacts)")

    dump = sub.add_parser("dump", parents=[common, keyed], help="print a model's IR")
    dump.add_argument("model", help=model_help)
    group = dump.add_mutually_exclusive_group()
    group.add_argument("--after", metavar="PASS", help="stop after this pass")
    group.add_argument("--print-after-all", action="store_true",
                       help="print the graph after every pass")
    group.add_argument("--no-passes", action="store_true", help="print the traced graph")
    dump.add_argument("--format", choices=("text", "json", "dot", "plan"), default="text",
                      help="plan: the CPU program listing (needs every pass)")
    dump.add_argument("--dump-dir", metavar="DIR",
                      help="also write the graph after each pass, one numbered file per pass")
    dump.add_argument("--locations", action="store_true", help="show the user's source lines")
    dump.set_defaults(run=_dump)

    comp = sub.add_parser("compile", parents=[common, keyed],
                          help="compile a model into an artifact")
    comp.add_argument("model", help=model_help)
    comp.add_argument("-o", "--output", required=True, metavar="ARTIFACT")
    comp.add_argument("--sign-key-file", metavar="KEY",
                      help="sign the artifact with the key in this file (HMAC-SHA256; "
                           "default: $LAYERC_SIGNING_KEY_FILE, if set)")
    comp.add_argument("--target", choices=tuple(TARGETS), default=None, help="default: cpu")
    comp.set_defaults(run=_compile)

    insp = sub.add_parser("inspect", parents=[common, keyed],
                          help="layers, shapes, passes, kernels and memory")
    insp.add_argument("model", help=model_help)
    insp.add_argument("--html", metavar="OUT.html",
                      help="instead, write one self-contained page: the graph drawn with each "
                           "node's shapes, kernel and epilogue, the passes, the memory plan")
    insp.set_defaults(run=_inspect)

    run = sub.add_parser("run", parents=[common, keyed], help="run a model on .npy inputs")
    run.add_argument("model", help=model_help)
    run.add_argument("--input", action="append", required=True, metavar="X.npy",
                     help="one per model input, in order")
    run.add_argument("--output", metavar="OUT.npy|OUT.npz",
                     help="where to write the outputs (default: print them)")
    run.add_argument("--batch-size", type=_positive, default=None)
    run.set_defaults(run=_run)

    bench = sub.add_parser("bench", parents=[common, keyed],
                           help="latency and throughput on this machine")
    bench.add_argument("model", help=model_help)
    bench.add_argument("--batch-size", type=_positive, default=None,
                       help="default: 1, or a stateful model's fixed batch")
    bench.add_argument("--seconds", type=float, default=3.0,
                       help="how long to measure (default 3)")
    bench.add_argument("--target", choices=tuple(TARGETS), default=None)
    bench.add_argument("--profile", action="store_true",
                       help="then time each node: time, share, GFLOP/s against the "
                            "machine's sgemm peak")
    bench.set_defaults(run=_bench)

    warm = sub.add_parser("warmup", parents=[common],
                          help="build the whole CPU kernel library into the cache now "
                               "(e.g. in a container image's build step)")
    warm.add_argument("--quiet", action="store_true", help="no progress line")
    warm.set_defaults(run=_warmup)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (LayercError, OSError) as err:
        if args.debug:
            raise
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"layerc: error: {message}", file=sys.stderr)
        return 1
    return 0
