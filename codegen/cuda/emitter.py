"""The CUDA emitter: collects kernel launches, the weight arena and a listing.

A launch is data: a kernel name and named int operands, arena offsets counted
per sample (the launcher scales them by the batch). The listing is the
program's source text: deterministic, one line per launch, in the CPU plan's
`name operands ; %node` form so `layerc inspect` reads both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from layerc.codegen.cuda.codes import ACTIVATIONS, BINOP_NAMES
from layerc.ir import Graph, Node, Port, TargetError

ALIGN = 32  # floats: 128-byte aligned weight blocks


@dataclass(frozen=True)
class Launch:
    kernel: str
    node: str
    operands: tuple[tuple[str, int], ...]

    def get(self, name: str) -> int:
        return dict(self.operands)[name]


class Emitter:
    def __init__(self, graph: Graph) -> None:
        if graph.memory_plan is None:
            raise TargetError(f"graph {graph.name} has no memory plan; run the plan-memory "
                              f"pass before code generation")
        self.graph = graph
        self._offsets = dict(graph.memory_plan.offsets)
        self.launches: list[Launch] = []
        self.lines: list[str] = []
        self._chunks: list[np.ndarray] = []
        self._weight_at: dict[str, int] = {}
        self._size = 0
        # Scratch lives after the planned tensors; one node uses it at a time.
        self.scratch_at = graph.memory_plan.arena_size
        self.scratch_size = 0
        self.state_slots: dict[str, tuple[int, int, int]] = {}  # layer: (offset, count, units)
        self.state_size = 0

    def offset(self, port: Port) -> int:
        """The per-sample arena offset of a tensor."""
        return self._offsets[port]

    def weight(self, name: str, pack: Callable[[np.ndarray], np.ndarray] | None = None) -> int:
        """The offset of a weight in the weight arena, stored once."""
        if name not in self._weight_at:
            value = np.asarray(self.graph.weights[name], np.float32)
            value = value if pack is None else pack(value)
            at = self._size
            padded = -(-value.size // ALIGN) * ALIGN
            chunk = np.zeros(padded, np.float32)
            chunk[: value.size] = value.reshape(-1)
            self._chunks.append(chunk)
            self._size += padded
            self._weight_at[name] = at
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

    def launch(self, kernel: str, node: Node, **operands: int) -> None:
        self.launches.append(Launch(kernel, node.id, tuple(operands.items())))
        args = " ".join(f"{k}={_show(k, v)}" for k, v in operands.items())
        self.lines.append(f"{kernel:<12} {args:<70} ; %{node.id}")

    def weights(self) -> np.ndarray:
        if not self._chunks:
            return np.zeros(ALIGN, np.float32)
        return np.concatenate(self._chunks)


def _show(key: str, value: int) -> str:
    if key in ("act", "rec_act"):
        return ACTIVATIONS[value]
    if key == "binop":
        return BINOP_NAMES[value]
    return str(value)
