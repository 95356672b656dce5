"""`layerc.compile`: trace, run the pass pipeline, generate code for a target."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from layerc.errors import ConfigError
from layerc.ir import Graph, rule_for
from layerc.ir.specialize import with_input_shapes
from layerc.passes import Instrument, Pass, PassManager, default_pipeline
from layerc.runtime import CompiledModel
from layerc.runtime.chunks import resolve_cap
from layerc.runtime.variable import Shapes, ShapeSpecializedModel


def optimize(graph: Graph, passes: Sequence[Pass] | None = None,
             instruments: Sequence[Instrument] = (),
             verify: bool | None = None) -> tuple[Graph, PassManager]:
    manager = PassManager(default_pipeline() if passes is None else tuple(passes),
                          instruments, verify)
    return manager.run(graph), manager


def compile(model: Any, target: str = "cpu", passes: Sequence[Pass] | None = None,
            instruments: Sequence[Instrument] = (), verify: bool | None = None,
            threads: int | None = None, max_arena_bytes: int | None = None,
            **options: Any) -> CompiledModel | ShapeSpecializedModel:
    """Compiles a layerc model (or an already traced ir.Graph) for `target`.
    `threads` (CPU): how many threads layerc runs on; default LAYERC_NUM_THREADS,
    else the cores this process may use. `max_arena_bytes`: the most activation
    memory one predict takes before it runs the batch in chunks; default
    LAYERC_MAX_ARENA_MB, else 256 MiB (runtime/chunks.py). A model whose
    inputs have unknown sizes besides the batch gives a ShapeSpecializedModel,
    compiled per concrete input shape when predict first meets it."""
    if options:
        raise ConfigError(f"compile: unknown option(s) {', '.join(sorted(options))}")
    cap = resolve_cap(max_arena_bytes)
    graph = model if isinstance(model, Graph) else model.to_graph()
    variable = [graph.node(i) for i in graph.inputs
                if any(d is None for d in graph.node(i).type.sample_shape)]
    if variable:
        return _specialized(model, graph, variable, target, passes, instruments, verify,
                            threads, cap)
    compiled = _compile_graph(graph, target, passes, instruments, verify, threads, cap)
    if not isinstance(model, Graph):
        for layer in model.layers:  # stateful layers reach their states through us
            if getattr(layer, "stateful", False):
                layer._attach(compiled)
    return compiled


def _compile_graph(graph: Graph, target: str, passes: Sequence[Pass] | None,
                   instruments: Sequence[Instrument], verify: bool | None,
                   threads: int | None, cap: int) -> CompiledModel:
    optimized, manager = optimize(graph, passes, instruments, verify)
    applied = tuple((name, result.changed) for name, result in manager.results)
    return CompiledModel(optimized, target, applied, tuple(manager.changes), threads, cap)


def _specialized(model: Any, graph: Graph, variable: list, target: str,
                 passes: Sequence[Pass] | None, instruments: Sequence[Instrument],
                 verify: bool | None, threads: int | None,
                 cap: int) -> ShapeSpecializedModel:
    """A model with inputs of unknown sizes (besides the batch): compiled per
    concrete input shape at predict time (runtime/variable.py). A model is
    traced again per shape; a Graph (or a variable-length artifact's) gets
    the shapes and infers its types again (ir/specialize.py)."""
    names = ", ".join(repr(node.id) for node in variable)
    if any(rule_for(node.op).state_shapes(node.attrs) for node in graph.nodes()):
        raise ConfigError(f"compile: inputs {names} have unknown sizes, which a stateful "
                          f"model cannot take; give them fixed sizes")
    from layerc.trace import trace

    def build(shapes: Shapes) -> CompiledModel:
        concrete = with_input_shapes(model, shapes) if isinstance(model, Graph) else \
            trace(model.inputs, model.outputs, model.name, list(shapes))
        return _compile_graph(concrete, target, passes, instruments, verify, threads, cap)

    names_run = [p.name for p in (default_pipeline() if passes is None else passes)]
    return ShapeSpecializedModel(graph, target, build, names_run)
