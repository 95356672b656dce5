"""What every backend's code generation shares: the lowering tables, the
emitter's arena bookkeeping, the `Program` protocol the runtime relies on and
the part of a program every target has (slots, listing, states).

A backend subclasses `BaseEmitter` with how it records one step (the CPU a
plan row, CUDA a kernel launch) and keeps its own table from `lowering_table`,
which starts with the lowerings every target shares (see `codegen/lowering.py`,
the target-independent half of every lowering, and `codegen/moves.py`, the
ops that only move values); the backend registers only
the lowerings where it picks its own kernels.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from dataclasses import dataclass, fields
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from layerc.codegen.schema import Schema
from layerc.ir import Graph, Node, OpKind, Port, TargetError, check_plan

Operands = dict[str, int]
Lowering = Callable[..., None]  # (emitter, node) -> None
Steps = list[tuple[str, Operands]]  # (kernel name, operands) in order


# ----- the emitter -----
class BaseEmitter:
    """Per-sample arena offsets of tensors, scratch and stateful layers' states,
    the packed weight arena, and the program's text listing."""

    def __init__(self, graph: Graph, align: int) -> None:
        if graph.memory_plan is None:
            raise TargetError(f"graph {graph.name} has no memory plan; run the plan-memory "
                              f"pass before code generation")
        self.graph = graph
        self.align = align  # floats
        self._offsets = dict(graph.memory_plan.offsets)
        self.lines: list[str] = []
        self._chunks: list[np.ndarray] = []
        self.stored: dict[int, int] = {}  # weight arena offset -> floats stored there
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
        # Which steps each node lowered to: (node id, first step, stop step).
        self.spans: list[tuple[str, int, int]] = []

    def step(self, kernel: str, node: Node, **operands: int) -> None:
        """Records one step of the named kernel with its operands (the shared
        lowerings emit through this; each backend maps names to its kernels)."""
        raise NotImplementedError

    def offset(self, port: Port) -> int:
        """The per-sample arena offset of a tensor."""
        return self._offsets[port]

    def _append(self, values: np.ndarray) -> int:
        at = self._size
        padded = -(-values.size // self.align) * self.align
        chunk = np.zeros(padded, np.float32)
        chunk[: values.size] = values.reshape(-1)
        self._chunks.append(chunk)
        self.stored[at] = padded
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
        return self.constants(np.array([value], np.float32))

    def constants(self, values: np.ndarray) -> int:
        """The offset of an array computed at lowering, stored in the weight arena."""
        return self._append(np.asarray(values, np.float32))

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

    def listing(self, schema: Schema, node: Node, operands: Mapping[str, int]) -> None:
        """One line of the text listing, `name field=value ... ; %node`, the
        fields in the schema's order (what `layerc inspect` shows). Every step
        writes exactly one, so the lines count the steps."""
        self.lines.append(schema.line(operands, node.id))

    def weights(self) -> np.ndarray:
        if not self._chunks:
            return np.zeros(self.align, np.float32)
        return np.concatenate(self._chunks)


# ----- the lowering tables -----
SHARED: dict[OpKind, Lowering] = {}
"""Lowerings every target shares: their steps name kernels each target has."""


def shared(*kinds: OpKind) -> Callable[[Callable[[BaseEmitter, Node], Steps]],
                                       Callable[[BaseEmitter, Node], Steps]]:
    """Registers `steps(emitter, node)` as the lowering of `kinds` on every
    target: each step it returns is emitted as it is."""
    def register(steps: Callable[[BaseEmitter, Node], Steps]
                 ) -> Callable[[BaseEmitter, Node], Steps]:
        def lower(e: BaseEmitter, node: Node) -> None:
            for kernel, operands in steps(e, node):
                e.step(kernel, node, **operands)

        lower.__name__ = lower.__qualname__ = f"lower_{steps.__name__}"
        lower.__doc__ = steps.__doc__
        for kind in kinds:
            if kind in SHARED:
                raise ValueError(f"two shared lowerings for {kind}")
            SHARED[kind] = lower
        return steps
    return register


def lowering_table(target: str) -> tuple[dict[OpKind, Lowering], Callable[..., Callable]]:
    """A backend's table (op kind -> lowering), starting with the shared
    lowerings, and its `@lowers(*kinds)`, which replaces a shared lowering by
    the backend's own (once per kind)."""
    from layerc.codegen import lowering, moves, windows  # noqa: F401  (register the shared lowerings)

    table: dict[OpKind, Lowering] = dict(SHARED)

    def lowers(*kinds: OpKind) -> Callable:
        def register(fn: Lowering) -> Lowering:
            for kind in kinds:
                if kind in table and table[kind] is not SHARED.get(kind):
                    raise ValueError(f"two {target} lowerings for {kind}")
                table[kind] = fn
            return fn
        return register
    return table, lowers


def lower_all(graph: Graph, emitter: BaseEmitter, table: Mapping[OpKind, Lowering],
              target: str) -> None:
    """Runs the lowering of every node in order, noting each node's steps."""
    for node in graph.nodes():
        lowering = table.get(node.op)
        if lowering is None:
            raise TargetError(f"{node.label}: the {target} backend cannot run op "
                              f"{node.op.value}")
        first = len(emitter.lines)
        lowering(emitter, node)
        if len(emitter.lines) > first:
            emitter.spans.append((node.id, first, len(emitter.lines)))


# ----- what the runtime relies on -----
@dataclass(frozen=True)
class Slot:
    """Where one model input or output lives in the arena."""

    name: str
    offset: int  # per sample
    shape: tuple[int, ...]  # without the batch axis
    dtype: str
    size: int  # elements per sample


@runtime_checkable
class Program(Protocol):
    """A compiled model on one target, as `CompiledModel` uses it."""

    target: str
    inputs: tuple[Slot, ...]
    outputs: tuple[Slot, ...]
    text: str  # the deterministic listing: a header, one line per step, the states
    arena_size: int  # floats per sample of the activation arena (tensors and scratch)
    state_size: int  # floats per sample of stateful layers' states
    state_slots: dict[str, tuple[int, int, int]]  # layer: (offset, count, units)
    spans: tuple[tuple[str, int, int], ...]  # (node id, first step, stop step) per node
    arenas: ThreadArenas  # the activation arenas each thread runs in, within bounds

    @property
    def key(self) -> str:
        """A hash of `text`: equal programs have equal keys."""
        ...

    def new_state(self, size: int) -> Any:
        """Zeroed storage for `size` floats of states, sliceable like an array."""
        ...

    def run(self, xs: list[np.ndarray], batch: int, state: Any = None,
            arena: Any = None) -> list[np.ndarray]:
        """Runs one batch of C-contiguous float32 inputs; `state` (from
        `new_state`) is read and updated by stateful layers. It runs in
        `arena` (from `arenas.get(arena_size, n)` with n >= batch: a chunked
        predict runs every chunk in one), else in `arenas.get(arena_size,
        batch)`. New arrays out."""
        ...

    def stepper(self, xs: list[np.ndarray], batch: int,
                state: Any = None) -> Callable[[int, int], None]:
        """Copies one batch of inputs into an arena of this thread and returns
        `run_steps(start, stop)`, which runs steps [start, stop) there and
        returns when they are done (what a profile times, span by span)."""
        ...


@dataclass(eq=False)
class Lowered:
    """The part of a program every target has; a backend's program extends it
    with its steps and weights."""

    inputs: tuple[Slot, ...]
    outputs: tuple[Slot, ...]
    text: str
    arena_size: int  # floats per sample: planned tensors and scratch
    state_size: int  # floats per sample of stateful layers' states
    state_slots: dict[str, tuple[int, int, int]]  # layer: (offset, count, units)
    spans: tuple[tuple[str, int, int], ...]  # (node id, first step, stop step) per node

    @property
    def key(self) -> str:
        """A hash of `text` (the steps, not the weight values): equal programs
        have equal keys."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def parts(self) -> dict[str, Any]:
        """This record's fields, to build a backend's program from."""
        return {f.name: getattr(self, f.name) for f in fields(Lowered)}


def lower_program(graph: Graph, e: BaseEmitter, table: Mapping[OpKind, Lowering],
                  target: str, title: str) -> Lowered:
    """Lowers every node of a memory-planned graph with `table` into `e`; the
    listing's header starts with `title`. The memory plan is checked first
    (`layerc.ir.check_plan`): a plan read from a file never sends a kernel
    out of its arena."""
    check_plan(graph)
    lower_all(graph, e, table, target)
    inputs, outputs = io_slots(graph, e)
    plan = graph.memory_plan
    assert plan is not None  # the emitter checked
    arena = plan.arena_size + e.scratch_size
    header = [f"; {title} {graph.name}: arena {arena} floats per sample "
              f"({plan.arena_size} planned + {e.scratch_size} scratch; naive {plan.naive_size})"]
    header += [f"; input  {s.name} @{s.offset} {s.shape}" for s in inputs]
    header += [f"; output {s.name} @{s.offset} {s.shape}" for s in outputs]
    text = "\n".join(header + e.lines) + "\n"
    text += "".join(f"; state  {name} @{off} {count}x{units}\n"
                    for name, (off, count, units) in e.state_slots.items())
    return Lowered(inputs, outputs, text, arena, e.state_size, dict(e.state_slots),
                   tuple(e.spans))


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


MAX_ARENAS = 4  # batch sizes whose arena one thread keeps
CACHE_BYTES = 64 << 20  # arenas a program keeps between calls, all threads together
KEEP_BYTES = 16 << 20  # an arena larger than this is not kept after its call


class _Cache:
    """One thread's kept arenas of one program, by batch size (oldest first),
    and their bytes."""

    __slots__ = ("arenas", "nbytes", "__weakref__")

    def __init__(self) -> None:
        self.arenas: dict[int, Any] = {}
        self.nbytes = 0


class ThreadArenas:
    """Activation arenas, one per thread and batch size, so threads never
    share scratch. `allocate(floats)` makes one (a NumPy array on the CPU, a
    device array for CUDA); `itemsize` is its bytes per float.

    Between calls a program keeps arenas within bounds: a thread keeps at
    most MAX_ARENAS batch sizes; all threads together keep at most
    `cache_bytes`; an arena over `keep_bytes` is never kept (the caller's
    reference is its only one, so it is freed when the call returns); an
    arena that would take the kept bytes over `cache_bytes` is kept only by
    evicting the calling thread's own older ones, else not at all (a thread
    never takes another's arena away). A thread's arenas go when the thread
    ends or this object is dropped (they live in a `threading.local`, and
    nothing here refers back to the program).

    `get` on a batch size the thread keeps is two dictionary lookups: no
    lock and no allocation. The lock is taken only to keep a new arena.
    """

    def __init__(self, allocate: Callable[[int], Any], itemsize: int = 4,
                 cache_bytes: int = CACHE_BYTES, keep_bytes: int = KEEP_BYTES) -> None:
        self._allocate = allocate
        self._itemsize = itemsize
        self.cache_bytes = cache_bytes
        self.keep_bytes = keep_bytes
        self._local = threading.local()
        self._caches: weakref.WeakSet[_Cache] = weakref.WeakSet()  # one per living thread
        self._lock = threading.Lock()

    def bound(self, cache_bytes: int, keep_bytes: int) -> None:
        """Sets the bounds for arenas kept from now on (CompiledModel derives
        them from its max_arena_bytes)."""
        self.cache_bytes = cache_bytes
        self.keep_bytes = keep_bytes

    def get(self, floats: int, batch: int) -> Any:
        """An arena of at least `floats * batch` floats for this thread: the
        one it keeps for `batch`, else a new one (kept if the bounds allow)."""
        cache = self._local.__dict__.get("cache")
        if cache is not None:
            arena = cache.arenas.get(batch)
            if arena is not None:
                return arena
        return self._miss(floats, batch)

    @property
    def nbytes(self) -> int:
        """The bytes of the arenas kept now, all threads together."""
        with self._lock:
            return self._kept()

    def clear(self) -> None:
        """Drops every kept arena, of every thread (a call running in one
        keeps it until it returns)."""
        with self._lock:
            for cache in list(self._caches):
                cache.arenas.clear()
                cache.nbytes = 0

    def _kept(self) -> int:
        return sum(cache.nbytes for cache in list(self._caches))

    def _miss(self, floats: int, batch: int) -> Any:
        arena = self._allocate(max(floats * batch, 1))
        nbytes = arena.size * self._itemsize
        if nbytes > self.keep_bytes:
            return arena
        cache = self._local.__dict__.get("cache")
        with self._lock:
            if cache is None:
                cache = self._local.cache = _Cache()
                self._caches.add(cache)
            others = self._kept() - cache.nbytes
            if others + nbytes > self.cache_bytes:
                return arena  # other threads' arenas fill the budget
            mine = cache.arenas
            while mine and (len(mine) >= MAX_ARENAS or
                            others + cache.nbytes + nbytes > self.cache_bytes):
                cache.nbytes -= mine.pop(next(iter(mine))).size * self._itemsize
            mine[batch] = arena
            cache.nbytes += nbytes
        return arena
