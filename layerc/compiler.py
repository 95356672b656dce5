"""`layerc.compile`: trace, run the pass pipeline, generate code for a target."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from layerc.errors import ConfigError
from layerc.ir import Graph
from layerc.passes import Instrument, Pass, PassManager, default_pipeline
from layerc.runtime import CompiledModel


def optimize(graph: Graph, passes: Sequence[Pass] | None = None,
             instruments: Sequence[Instrument] = (),
             verify: bool | None = None) -> tuple[Graph, PassManager]:
    manager = PassManager(default_pipeline() if passes is None else tuple(passes),
                          instruments, verify)
    return manager.run(graph), manager


def compile(model: Any, target: str = "cpu", passes: Sequence[Pass] | None = None,
            instruments: Sequence[Instrument] = (), verify: bool | None = None,
            threads: int | None = None, **options: Any) -> CompiledModel:
    """Compiles a layerc model (or an already traced ir.Graph) for `target`.
    `threads` (CPU): how many threads layerc runs on; default LAYERC_NUM_THREADS,
    else the cores this process may use."""
    if options:
        raise ConfigError(f"compile: unknown option(s) {', '.join(sorted(options))}")
    graph = model if isinstance(model, Graph) else model.to_graph()
    optimized, manager = optimize(graph, passes, instruments, verify)
    applied = tuple((name, result.changed) for name, result in manager.results)
    compiled = CompiledModel(optimized, target, applied, tuple(manager.changes), threads)
    if not isinstance(model, Graph):
        for layer in model.layers:  # stateful layers reach their states through us
            if getattr(layer, "stateful", False):
                layer._attach(compiled)
    return compiled
