"""The table of CUDA lowerings: one function per op kind, emitting launches."""

from __future__ import annotations

from typing import Callable

from layerc.codegen.cuda.emitter import Emitter
from layerc.ir import Node, OpKind

Lowering = Callable[[Emitter, Node], None]
LOWERINGS: dict[OpKind, Lowering] = {}


def lowers(*kinds: OpKind) -> Callable[[Lowering], Lowering]:
    def register(fn: Lowering) -> Lowering:
        for kind in kinds:
            if kind in LOWERINGS:
                raise ValueError(f"two CUDA lowerings for {kind}")
            LOWERINGS[kind] = fn
        return fn
    return register
