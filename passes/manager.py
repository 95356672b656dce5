"""The pass manager and its instruments (printing, dumping, timing, verifying).

Instruments sit outside the passes: a pass never prints or times itself.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, TextIO

from layerc.ir import Graph, IRError, to_text, verify
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
            result = pass_.run(graph)
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
