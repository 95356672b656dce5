"""layerc.codegen: lowering an optimized graph to a runnable program per target.

`TARGETS` is the one table of targets: a name and the function that builds a
`codegen.base.Program` for a memory-planned graph. A backend is imported only
when a program is built for it (the CUDA one imports numba.cuda).
"""

from __future__ import annotations

from collections.abc import Callable

from layerc.codegen.base import Program
from layerc.ir import ConfigError, Graph, TargetError


def _cpu(graph: Graph, threads: int | None) -> Program:
    """Numba CPU kernels on `threads` threads (codegen/cpu/threads.py)."""
    from layerc.codegen.cpu.program import build_program

    return build_program(graph, threads)


def _cuda(graph: Graph, threads: int | None) -> Program:
    """Numba-CUDA, on a GPU or under NUMBA_ENABLE_CUDASIM=1 (a TargetError says
    what is missing)."""
    if threads is not None:
        raise ConfigError(f"threads={threads!r}: the thread count is for the cpu target; "
                          f"the cuda target runs its kernels on the GPU")
    from layerc.codegen.cuda.program import build_program

    return build_program(graph)


TARGETS: dict[str, Callable[[Graph, int | None], Program]] = {"cpu": _cpu, "cuda": _cuda}


def build(graph: Graph, target: str, threads: int | None = None) -> Program:
    """The program for `graph` on `target`; `threads` (CPU only): how many
    threads it runs on."""
    builder = TARGETS.get(target)
    if builder is None:
        raise TargetError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    return builder(graph, threads)


__all__ = ["Program", "TARGETS", "build"]
