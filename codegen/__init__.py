"""layerc.codegen: lowering an optimized graph to a runnable program per target.

`TARGETS` is the one table of targets: a name and the function that builds a
`codegen.base.Program` for a memory-planned graph. A backend is imported only
when a program is built for it (the CUDA one imports numba.cuda).
"""

from __future__ import annotations

from collections.abc import Callable

from layerc.codegen.base import Program
from layerc.ir import Graph, TargetError


def _cpu(graph: Graph) -> Program:
    from layerc.codegen.cpu.program import build_program

    return build_program(graph)


def _cuda(graph: Graph) -> Program:
    """Numba-CUDA, on a GPU or under NUMBA_ENABLE_CUDASIM=1 (a TargetError says
    what is missing)."""
    from layerc.codegen.cuda.program import build_program

    return build_program(graph)


TARGETS: dict[str, Callable[[Graph], Program]] = {"cpu": _cpu, "cuda": _cuda}


def build(graph: Graph, target: str) -> Program:
    """The program for `graph` on `target`."""
    builder = TARGETS.get(target)
    if builder is None:
        raise TargetError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    return builder(graph)


__all__ = ["Program", "TARGETS", "build"]
