"""The memory plan: where each tensor lives in the activation arena.

Offsets and sizes count float32 elements *per sample*; at run time a batch of
B samples scales every offset by B, so one plan serves every batch size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from layerc.ir.errors import IRError
from layerc.ir.node import Port

if TYPE_CHECKING:
    from layerc.ir.graph import Graph

ALIGN = 16  # floats: 64-byte alignment for vector loads at every batch size


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    offsets: tuple[tuple[Port, int], ...]  # every tensor's per-sample offset
    arena_size: int  # floats per sample in the planned arena
    naive_size: int  # floats per sample if every tensor had its own buffer

    def offset(self, port: Port) -> int:
        for p, off in self.offsets:
            if p == port:
                return off
        raise KeyError(f"{port} has no buffer in the memory plan")

    def to_json(self) -> dict:
        return {
            "offsets": [[p.node, p.index, off] for p, off in self.offsets],
            "arena_size": self.arena_size,
            "naive_size": self.naive_size,
        }

    @classmethod
    def from_json(cls, data: dict) -> MemoryPlan:
        offsets = tuple((Port(n, i), off) for n, i, off in data["offsets"])
        return cls(offsets, data["arena_size"], data["naive_size"])


# ----- lifetimes, and the check of a plan -----
@dataclass(frozen=True)
class Buffer:
    """One arena buffer: a tensor and the views that share it, live from
    `start` (the step that writes it; -1 for a graph input) to `end` (the
    last step that reads it; len(nodes) for a graph output)."""

    root: Port
    size: int  # floats per sample, unaligned
    start: int
    end: int
    tensors: tuple[Port, ...] = ()  # the writer's port first, then its views'


def buffers(graph: Graph, in_producer: bool = True) -> list[Buffer]:
    """The graph's buffers with their lifetimes, in the order of their
    writers: from the writer's step to the last reader's, a graph input from
    before the first step, an output to after the last; views share their
    source's. With `in_producer`, a node that may run in its producer's step
    keeps the producer's inputs alive through it."""
    from layerc.ir.registry import rule_for  # the registry's rules import the graph

    order = graph.nodes()
    root: dict[Port, Port] = {}
    start: dict[Port, int] = {}
    end: dict[Port, int] = {}
    for step, node in enumerate(order):
        rule = rule_for(node.op)
        held = list(node.inputs)
        if in_producer and node.inputs and graph.use_count(node.inputs[0]) == 1:
            producer = graph.node(node.inputs[0].node)
            if rule.runs_in_producer(node.attrs, producer):
                held += producer.inputs
        for p in held:
            end[root[p]] = max(end[root[p]], step)
        for port in map(node.port, range(len(node.types))):
            root[port] = root[node.inputs[0]] if rule.is_view else port
            if not rule.is_view:
                start[port] = end[port] = -1 if node.id in graph.inputs else step
    for p in graph.outputs:
        end[root[p]] = len(order)
    views: dict[Port, list[Port]] = {r: [] for r in start}
    for port, r in root.items():
        if port != r:
            views[r].append(port)
    return [Buffer(r, graph.type_of(r).sample_size, start[r], end[r], (r, *views[r]))
            for r in start]


def check_plan(graph: Graph) -> None:
    """Raises IRError unless the graph's memory plan keeps every tensor in
    the arena: each output of each node has one aligned offset (a view its
    source's), lies inside `arena_size`, and shares no memory with a tensor
    live at the same step. The lifetimes are those without `runs_in_producer`,
    so a plan made before a fusion existed passes; a fused step checks its
    own operands (codegen/cpu/fusion.py). Code generation runs this on every
    graph, so a plan from a file (an artifact) never sends a kernel out of
    its arena."""
    plan = graph.memory_plan
    if plan is None:
        raise IRError(f"graph {graph.name} has no memory plan")
    offsets: dict[Port, int] = {}
    for port, offset in plan.offsets:
        if port in offsets:
            raise IRError(f"memory plan: tensor {port} is placed twice")
        offsets[port] = offset
    try:
        bufs = buffers(graph, in_producer=False)
    except (KeyError, IndexError) as err:
        raise IRError(f"memory plan of graph {graph.name}: the graph is malformed ({err})") \
            from None
    placed = {port for b in bufs for port in b.tensors}
    extra = [port for port in offsets if port not in placed]
    if extra:
        raise IRError(f"memory plan: {extra[0]} is not a tensor of graph {graph.name}")
    arena = plan.arena_size
    for b in bufs:
        where = offsets.get(b.root)
        if where is None:
            raise IRError(f"memory plan: tensor {b.root} has no offset")
        if where < 0 or where % ALIGN or where + b.size > arena:
            raise IRError(f"memory plan: tensor {b.root} at offset {where} ({b.size} floats per "
                          f"sample) is not an aligned place inside the arena of {arena}")
        for view in b.tensors[1:]:
            if offsets.get(view) != where:
                raise IRError(f"memory plan: view {view} is not at its source {b.root}'s "
                              f"offset {where}")
    live: list[Buffer] = []  # buffers by start; those still live are compared
    for b in sorted(bufs, key=lambda b: (b.start, b.end)):
        live = [o for o in live if o.end >= b.start]
        lo = offsets[b.root]
        for o in live:
            other = offsets[o.root]
            if lo < other + o.size and other < lo + b.size:
                raise IRError(f"memory plan: tensors {o.root} and {b.root} share floats "
                              f"{max(lo, other)}-{min(lo + b.size, other + o.size) - 1} while "
                              f"both are live (steps {max(o.start, b.start)}-"
                              f"{min(o.end, b.end)})")
        live.append(b)
