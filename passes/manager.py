"""The pass manager and its instruments (printing, dumping, timing, verifying).

Instruments sit outside the passes: a pass never prints or times itself.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import TextIO

from layerc.ir import Graph, IRError, LayercError, PassError, to_text, verify
from layerc.ir.printer import node_context
from layerc.passes.base import Pass, PassResult
from layerc.passes.changes import describe_changes


class Instrument:
    def after(self, index: int, pass_: Pass, result: PassResult, seconds: float) -> None:
        """Called after each pass with its result and wall time."""


@dataclass
class PrintAfter(Instrument):
    """Prints the graph after the named passes (all of them when names is None)."""

    names: Sequence[str] | None = None
    stream: TextIO = field(default_factory=lambda: sys.stdout)

    def after(self, index: int, pass_: Pass, result: PassResult, seconds: float) -> None:
        if self.names is None or pass_.name in self.names:
            self.stream.write(f"# after {pass_.name} ({result.changed} rewrites)\n")
            for note in result.notes:
                self.stream.write(f"#   {note}\n")
            self.stream.write(to_text(result.graph))


@dataclass
class DumpToFolder(Instrument):
    """Writes NN-<pass>.txt per pass into a folder."""

    folder: Path

    def after(self, index: int, pass_: Pass, result: PassResult, seconds: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{index + 1:02d}-{pass_.name}.txt").write_text(to_text(result.graph))


@dataclass
class Timing(Instrument):
    """Collects the wall time of each pass."""

    times: list[tuple[str, float]] = field(default_factory=list)

    def after(self, index: int, pass_: Pass, result: PassResult, seconds: float) -> None:
        self.times.append((pass_.name, seconds))

    def report(self) -> str:
        return "\n".join(f"{name:20s} {sec * 1e3:8.2f} ms" for name, sec in self.times)


def verify_enabled() -> bool:
    return os.environ.get("LAYERC_VERIFY", "") not in ("", "0")


@dataclass
class PassManager:
    passes: Sequence[Pass]
    instruments: Sequence[Instrument] = ()
    verify: bool | None = None  # None: follow LAYERC_VERIFY
    results: list[tuple[str, PassResult]] = field(default_factory=list)
    changes: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # per pass

    def run(self, graph: Graph) -> Graph:
        check = verify_enabled() if self.verify is None else self.verify
        if check:
            verify(graph)
        for index, pass_ in enumerate(self.passes):
            began = time.perf_counter()
            try:
                result = pass_.run(graph)
            except Exception as err:
                raise pass_failure(pass_, graph, err) from err
            seconds = time.perf_counter() - began
            if check:
                try:
                    verify(result.graph)
                except IRError as err:
                    raise IRError(f"after pass {pass_.name}: {err}") from None
            self.results.append((pass_.name, result))
            self.changes.append((pass_.name, describe_changes(graph, result.graph)
                                 + tuple(f"note: {n}" for n in result.notes)))
            for instrument in self.instruments:
                instrument.after(index, pass_, result, seconds)
            graph = result.graph
        return graph


def pass_failure(pass_: Pass, graph: Graph, err: Exception) -> Exception:
    """`err` raised inside `pass_`, reported with the pass's name and the node
    it was rewriting (see `passes.base.rewriting`) with the IR around it. A
    LayercError keeps its class (the user may catch it); anything else is a
    PassError, a bug of layerc's, with the original chained."""
    node_id = getattr(err, "layerc_node", None)
    where = context = ""
    if node_id is not None and node_id in graph:
        node = graph.node(node_id)
        where = f" rewriting %{node.id} ({node.label})"
        context = "\n" + node_context(graph, node)
    what = str(err) if isinstance(err, LayercError) else f"{type(err).__name__}: {err}"
    message = f"pass {pass_.name} failed{where}: {what}{context}"
    if isinstance(err, LayercError):
        try:
            return type(err)(message)
        except TypeError:  # an error class with another constructor
            pass
    return PassError(message)
