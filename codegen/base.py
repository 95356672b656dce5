"""What every backend's code generation shares: the lowering table, the
emitter's arena bookkeeping, the input/output slots and the window geometry.

A backend subclasses `BaseEmitter` with how it records one step (the CPU a
plan row, CUDA a kernel launch) and keeps its own table from `lowering_table`.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from layerc.ir import Graph, Node, OpKind, Port, TargetError
from layerc.ir.ops.spatial import split, window_output


# ----- the lowering table -----
def lowering_table(target: str) -> tuple[dict[OpKind, Callable[..., None]],
                                         Callable[..., Callable]]:
    """A backend's table (op kind -> lowering) and its `@lowers(*kinds)`."""
    table: dict[OpKind, Callable[..., None]] = {}

    def lowers(*kinds: OpKind) -> Callable:
        def register(fn: Callable[..., None]) -> Callable[..., None]:
            for kind in kinds:
                if kind in table:
                    raise ValueError(f"two {target} lowerings for {kind}")
                table[kind] = fn
            return fn
        return register
    return table, lowers


def lower_all(graph: Graph, emitter: "BaseEmitter", table: Mapping[OpKind, Callable],
              target: str) -> None:
    """Runs the lowering of every node in order."""
    for node in graph.nodes():
        lowering = table.get(node.op)
        if lowering is None:
            raise TargetError(f"{node.label}: the {target} backend cannot run op "
                              f"{node.op.value}")
        lowering(emitter, node)


# ----- the emitter -----
class BaseEmitter:
    """Per-sample arena offsets of tensors, scratch and stateful layers' states,
    the packed weight arena, and the program's text listing."""

    def __init__(self, graph: Graph, align: int, show: Callable[[str, int], str]) -> None:
        if graph.memory_plan is None:
            raise TargetError(f"graph {graph.name} has no memory plan; run the plan-memory "
                              f"pass before code generation")
        self.graph = graph
        self.align = align  # floats
        self._show = show
        self._offsets = dict(graph.memory_plan.offsets)
        self.lines: list[str] = []
        self._chunks: list[np.ndarray] = []
        self._weight_at: dict[str, int] = {}
        self._size = 0
        # Scratch (e.g. im2col patches) lives after the planned tensors; one
        # step uses it at a time, so its size is the largest request.
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
        padded = -(-values.size // self.align) * self.align
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

    def constant(self, value: float) -> int:
        return self._append(np.array([value], np.float32))

    def scratch(self, size: int) -> int:
        """The per-sample arena offset of `size` floats of scratch."""
        self.scratch_size = max(self.scratch_size, -(-size // self.align) * self.align)
        return self.scratch_at

    def state(self, layer: str, count: int, units: int) -> int:
        """A slot of `count` states of `units` floats per sample for a stateful layer."""
        at = self.state_size
        self.state_slots[layer] = (at, count, units)
        self.state_size += count * units
        return at

    def listing(self, name: str, node: Node, operands: Mapping[str, int]) -> None:
        """One line of the text listing: `name operands ; %node` (what the
        cache key hashes and `layerc inspect` reads)."""
        args = " ".join(f"{k}={self._show(k, v)}" for k, v in operands.items())
        self.lines.append(f"{name:<12} {args:<70} ; %{node.id}")

    def weights(self) -> np.ndarray:
        if not self._chunks:
            return np.zeros(self.align, np.float32)
        return np.concatenate(self._chunks)


# ----- what a program keeps at run time -----
MAX_ARENAS = 4  # batch sizes whose arena a thread keeps


class ThreadArenas:
    """Activation arenas, one per thread and batch size, so threads never
    share scratch; a thread keeps its last few batch sizes. `allocate(size)`
    makes one (a NumPy array on the CPU, a device array for CUDA)."""

    def __init__(self, allocate: Callable[[int], Any]) -> None:
        self._allocate = allocate
        self._local = threading.local()

    def get(self, floats: int, batch: int) -> Any:
        arenas = self._local.__dict__.setdefault("arenas", {})
        arena = arenas.get(batch)
        if arena is None:
            if len(arenas) >= MAX_ARENAS:
                arenas.clear()
            arena = arenas[batch] = self._allocate(max(floats * batch, 1))
        return arena


def program_key(text: str) -> str:
    """A hash of a program's text (the plan, not the weight values)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----- inputs, outputs and the listing's header -----
@dataclass(frozen=True)
class Slot:
    """Where one model input or output lives in the arena."""

    name: str
    offset: int  # per sample
    shape: tuple[int, ...]  # without the batch axis
    dtype: str
    size: int  # elements per sample


def io_slots(graph: Graph, e: BaseEmitter) -> tuple[tuple[Slot, ...], tuple[Slot, ...]]:
    """The input and output slots of a lowered graph."""
    def slot(port: Port, name: str) -> Slot:
        t = graph.type_of(port)
        return Slot(name, e.offset(port), tuple(t.sample_shape), t.dtype,  # type: ignore
                    t.sample_size)

    inputs = tuple(slot(graph.node(i).port(), i) for i in graph.inputs)
    for s in inputs:
        if graph.node(s.name).op is not OpKind.INPUT:
            raise TargetError(f"graph input {s.name} is not an input node")
    return inputs, tuple(slot(p, str(p)[1:]) for p in graph.outputs)


def program_text(kind: str, graph: Graph, e: BaseEmitter, inputs: tuple[Slot, ...],
                 outputs: tuple[Slot, ...]) -> str:
    """The program's deterministic listing: a header, one line per step, states."""
    plan = graph.memory_plan
    assert plan is not None  # the emitter checked
    arena = plan.arena_size + e.scratch_size
    header = [f"; {kind} {graph.name}: arena {arena} floats per sample "
              f"({plan.arena_size} planned + {e.scratch_size} scratch; naive {plan.naive_size})"]
    header += [f"; input  {s.name} @{s.offset} {s.shape}" for s in inputs]
    header += [f"; output {s.name} @{s.offset} {s.shape}" for s in outputs]
    text = "\n".join(header + e.lines) + "\n"
    return text + "".join(f"; state  {name} @{off} {count}x{units}\n"
                          for name, (off, count, units) in e.state_slots.items())


# ----- window ops seen in 2-D -----
def as_2d(sizes: tuple[int, ...]) -> tuple[int, int]:
    """A 1-D window op is a 2-D one of height 1."""
    return (1, sizes[0]) if len(sizes) == 1 else (sizes[0], sizes[1])


def window_maps(graph: Graph, node: Node, rank: int) -> tuple[int, int, int, int, int, int]:
    """(h, w, c, oh, ow, f) of a window op seen in 2-D."""
    fmt = node.attrs.data_format
    sizes, c = split(graph.type_of(node.inputs[0]), fmt, rank)
    out_sizes, f = split(node.type, fmt, rank)
    (h, w), (oh, ow) = as_2d(sizes), as_2d(out_sizes)
    return h, w, c, oh, ow, f


def window_pads(graph: Graph, node: Node) -> tuple[int, int]:
    """(top, left) pads: from specialize-padding, or derived here when that pass
    did not run (the bottom/right pads need no code: they only bound loops)."""
    a = node.attrs
    pads = a.pads
    if pads is None:
        kernel = a.kernel if node.op is OpKind.CONV else a.pool
        dilation = a.dilation if node.op is OpKind.CONV else (1,) * len(kernel)
        _, pads, _ = window_output(graph.type_of(node.inputs[0]), a.data_format, kernel,
                                   a.strides, dilation, a.padding, "window")
    return (0, pads[0][0]) if len(pads) == 1 else (pads[0][0], pads[1][0])
