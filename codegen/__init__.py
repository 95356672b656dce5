"""layerc.codegen: lowering an optimized graph to a runnable program per target."""

from __future__ import annotations

from typing import Any

from layerc.ir import Graph, TargetError

TARGETS = ("cpu",)


def build(graph: Graph, target: str) -> Any:
    """The program for `graph` on `target` (only 'cpu' so far)."""
    if target == "cpu":
        from layerc.codegen.cpu import build_program

        return build_program(graph)
    if target == "cuda":
        raise TargetError("target 'cuda' is not implemented yet (see the Numba-CUDA backend "
                          "issue); use target='cpu'")
    raise TargetError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
