"""The CPU emitter: collects plan rows, the weight arena and a text listing.

The listing is the program's source: deterministic (same graph, same text,
byte for byte), what `layerc dump --format plan` and `layerc inspect` show.
"""

from __future__ import annotations

import numpy as np

from layerc.codegen.base import BaseEmitter
from layerc.codegen.cpu.opcodes import WIDTH, Opcode, named
from layerc.ir import Graph, Node, TargetError

ALIGN = 16  # floats


class Emitter(BaseEmitter):
    def __init__(self, graph: Graph) -> None:
        super().__init__(graph, ALIGN)
        self.rows: list[list[int]] = []

    def instr(self, op: Opcode, node: Node, **operands: int) -> None:
        """Appends a row of `op` with its operands by name (all of them, and
        no others: the opcode's schema checks)."""
        self.rows.append(op.row(operands, node.label))
        self.listing(op.schema, node, operands)

    def step(self, kernel: str, node: Node, **operands: int) -> None:
        op = named(kernel)
        if op is None:
            raise TargetError(f"{node.label}: the CPU backend has no opcode {kernel!r}")
        self.instr(op, node, **operands)

    def plan(self) -> np.ndarray:
        if not self.rows:
            return np.zeros((0, WIDTH), np.int64)
        return np.array(self.rows, dtype=np.int64)
