"""The CUDA emitter: collects kernel launches, the weight arena and a listing.

A launch is data: a kernel name and named int operands, arena offsets counted
per sample (the launcher scales them by the batch). The listing is the
program's source text: deterministic, one line per launch, in the CPU plan's
`name operands ; %node` form so `layerc inspect` reads both.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerc.codegen.base import BaseEmitter
from layerc.codegen.cuda.codes import ACTIVATIONS, BINOP_NAMES
from layerc.ir import Graph, Node

ALIGN = 32  # floats: 128-byte aligned weight blocks


@dataclass(frozen=True)
class Launch:
    kernel: str
    node: str
    operands: tuple[tuple[str, int], ...]

    def get(self, name: str) -> int:
        return dict(self.operands)[name]


class Emitter(BaseEmitter):
    def __init__(self, graph: Graph) -> None:
        super().__init__(graph, ALIGN, _show)
        self.launches: list[Launch] = []

    def launch(self, kernel: str, node: Node, **operands: int) -> None:
        self.launches.append(Launch(kernel, node.id, tuple(operands.items())))
        self.listing(kernel, node, operands)


def _show(key: str, value: int) -> str:
    if key in ("act", "rec_act"):
        return ACTIVATIONS[value]
    if key == "binop":
        return BINOP_NAMES[value]
    return str(value)
