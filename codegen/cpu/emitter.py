"""The CPU emitter: collects plan rows, the weight arena and a text listing.

The listing is the program's source: deterministic (same graph, same text,
byte for byte) and what `layerc dump --format plan` and the cache key show.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerc.codegen.base import BaseEmitter
from layerc.codegen.cpu.opcodes import ACTIVATIONS, BINOP_NAMES, OPNAMES, VARIANT_NAMES, WIDTH
from layerc.ir import Graph, Node

ALIGN = 16  # floats


class Emitter(BaseEmitter):
    def __init__(self, graph: Graph) -> None:
        super().__init__(graph, ALIGN, _show)
        self.rows: list[list[int]] = []

    def instr(self, opcode: int, node: Node, **operands: int) -> None:
        if 1 + len(operands) > WIDTH:
            raise ValueError(f"{OPNAMES[opcode]} has too many operands")
        row = [opcode, *operands.values()]
        self.rows.append(row + [0] * (WIDTH - len(row)))
        self.listing(OPNAMES[opcode], node, operands)

    def plan(self) -> np.ndarray:
        if not self.rows:
            return np.zeros((0, WIDTH), np.int64)
        return np.array(self.rows, dtype=np.int64)


def _show(key: str, value: Any) -> str:
    if key in ("act", "rec_act"):
        return ACTIVATIONS[value]
    if key == "binop":
        return BINOP_NAMES[value]
    if key == "variant":
        return VARIANT_NAMES[value]
    return str(value)

