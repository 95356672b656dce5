"""layerc.codegen: lowering an optimized graph to a runnable program per target."""

from __future__ import annotations

from typing import Any

from layerc.ir import Graph, TargetError

TARGETS = ("cpu", "cuda")


def build(graph: Graph, target: str) -> Any:
    """The program for `graph` on `target` ('cpu', or 'cuda': Numba-CUDA, on a
    GPU or under NUMBA_ENABLE_CUDASIM=1; a TargetError says what is missing)."""
    if target == "cpu":
        from layerc.codegen.cpu import build_program

        return build_program(graph)
    if target == "cuda":
        from layerc.codegen.cuda import build_program as build_cuda

        return build_cuda(graph)
    raise TargetError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
