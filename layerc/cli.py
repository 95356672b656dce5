"""The `layerc` command line (also `python -m layerc`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from layerc.errors import LayercError


def _dump(args: argparse.Namespace) -> None:
    from layerc import ir
    from layerc.codegen import build
    from layerc.compiler import optimize
    from layerc.model_file import load_model_file
    from layerc.passes import PrintAfter, by_name, default_pipeline

    model = load_model_file(args.model)
    graph = model.to_graph()
    passes = default_pipeline()
    if args.no_passes:
        passes = ()
    elif args.after:
        try:
            last = by_name(args.after)
        except KeyError as err:
            raise SystemExit(f"layerc: error: {err.args[0]}") from None
        passes = passes[: passes.index(last) + 1]
    instruments = [PrintAfter(None, sys.stdout)] if args.print_after_all else []
    if args.print_after_all:
        sys.stdout.write("# traced\n" + ir.to_text(graph))
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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="layerc", description="Compile Keras-style models.")
    top.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = top.add_subparsers(dest="command", required=True)
    dump = sub.add_parser("dump", help="print a model's IR")
    dump.add_argument("model", help="file.py[:name]: a model, or a function returning one")
    group = dump.add_mutually_exclusive_group()
    group.add_argument("--after", metavar="PASS", help="stop after this pass")
    group.add_argument("--print-after-all", action="store_true",
                       help="print the graph after every pass")
    group.add_argument("--no-passes", action="store_true", help="print the traced graph")
    dump.add_argument("--format", choices=("text", "json", "dot", "plan"), default="text",
                      help="plan: the CPU program listing (needs every pass)")
    dump.add_argument("--locations", action="store_true", help="show the user's source lines")
    dump.set_defaults(run=_dump)
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
