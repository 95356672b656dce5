"""The CPU emitter: collects plan rows, the weight arena and a text listing.

The listing is the program's source: deterministic (same graph, same text,
byte for byte) and what `layerc dump --format plan` and the cache key show.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from layerc.codegen.cpu.opcodes import ACTIVATIONS, BINOP_NAMES, OPNAMES, WIDTH
from layerc.ir import Graph, Node, Port, TargetError

ALIGN = 16  # floats


class Emitter:
    def __init__(self, graph: Graph) -> None:
        if graph.memory_plan is None:
            raise TargetError(f"graph {graph.name} has no memory plan; run the plan-memory "
                              f"pass before code generation")
        self.graph = graph
        self._offsets = dict(graph.memory_plan.offsets)
        self.rows: list[list[int]] = []
        self.lines: list[str] = []
        self._chunks: list[np.ndarray] = []
        self._weight_at: dict[str, int] = {}
        self._size = 0
        # Scratch (e.g. im2col patches) lives after the planned tensors; one
        # instruction uses it at a time, so its size is the largest request.
        self.scratch_at = graph.memory_plan.arena_size
        self.scratch_size = 0
        # States of stateful layers: per-sample slots of a separate state arena
        # that the runtime keeps between calls.
        self.state_slots: dict[str, tuple[int, int, int]] = {}  # layer: (offset, count, units)
        self.state_size = 0

    def offset(self, port: Port) -> int:
        """The per-sample arena offset of a tensor."""
        return self._offsets[port]

    def _append(self, values: np.ndarray) -> int:
        at = self._size
        padded = -(-values.size // ALIGN) * ALIGN
        chunk = np.zeros(padded, np.float32)
        chunk[: values.size] = values.reshape(-1)
        self._chunks.append(chunk)
        self._size += padded
        return at

    def weight(self, name: str, pack: Callable[[np.ndarray], np.ndarray] | None = None) -> int:
        """The offset of a weight in the weight arena, stored once, after `pack`
        puts it in the layout its kernel prefers."""
        if name not in self._weight_at:
            value = np.asarray(self.graph.weights[name], np.float32)
            self._weight_at[name] = self._append(value if pack is None else pack(value))
        return self._weight_at[name]

    def scratch(self, size: int) -> int:
        """The per-sample arena offset of `size` floats of scratch."""
        self.scratch_size = max(self.scratch_size, -(-size // ALIGN) * ALIGN)
        return self.scratch_at

    def state(self, layer: str, count: int, units: int) -> int:
        """A slot of `count` states of `units` floats per sample for a stateful layer."""
        at = self.state_size
        self.state_slots[layer] = (at, count, units)
        self.state_size += count * units
        return at

    def constant(self, value: float) -> int:
        return self._append(np.array([value], np.float32))

    def instr(self, opcode: int, node: Node, **operands: int) -> None:
        if 1 + len(operands) > WIDTH:
            raise ValueError(f"{OPNAMES[opcode]} has too many operands")
        row = [opcode, *operands.values()]
        self.rows.append(row + [0] * (WIDTH - len(row)))
        args = " ".join(f"{k}={_show(k, v)}" for k, v in operands.items())
        self.lines.append(f"{OPNAMES[opcode]:<12} {args:<70} ; %{node.id}")

    def weights(self) -> np.ndarray:
        if not self._chunks:
            return np.zeros(ALIGN, np.float32)
        return np.concatenate(self._chunks)

    def plan(self) -> np.ndarray:
        if not self.rows:
            return np.zeros((0, WIDTH), np.int64)
        return np.array(self.rows, dtype=np.int64)


def _show(key: str, value: Any) -> str:
    if key in ("act", "rec_act"):
        return ACTIVATIONS[value]
    if key == "binop":
        return BINOP_NAMES[value]
    return str(value)


def sample_size(shape: tuple[int | None, ...]) -> int:
    return math.prod(shape[1:])  # type: ignore[arg-type]
