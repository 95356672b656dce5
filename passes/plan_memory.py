"""plan-memory: liveness-based placement of every tensor in one activation arena.

Sizes are per sample (the runtime scales offsets by the batch size).  A view
shares its source's buffer.  Each buffer lives from the node that writes it to
the last node that reads it (graph inputs from the start, outputs to the end);
buffers whose lifetimes overlap never overlap in memory, so no op ever writes
over its own input. A backend may run an op whose rule says
`runs_in_producer` (a pooling, a 1x1 convolution after a depthwise one)
inside the step of the op whose output it alone reads (the CPU does:
codegen/cpu/fusion.py), so that op's inputs live through its step too.
Placement is greedy by size, largest first, at the lowest offset that fits
(the TFLite arena planner's strategy).
"""

from __future__ import annotations

from dataclasses import dataclass

from layerc.ir import Graph, MemoryPlan, Port, rule_for
from layerc.passes.base import Pass, PassResult

ALIGN = 16  # floats: 64-byte alignment for vector loads at every batch size


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass(frozen=True)
class Buffer:
    root: Port
    size: int
    start: int
    end: int


@dataclass(frozen=True)
class PlanMemory(Pass):
    """Annotates the graph with a MemoryPlan. Requires: known sample shapes."""

    name = "plan-memory"

    def run(self, graph: Graph) -> PassResult:
        g = graph.copy()
        order = g.nodes()
        root: dict[Port, Port] = {}
        start: dict[Port, int] = {}
        end: dict[Port, int] = {}
        for step, node in enumerate(order):
            for p in node.inputs:
                end[root[p]] = max(end[root[p]], step)
            producer = g.node(node.inputs[0].node) if node.inputs else None
            if producer is not None and g.use_count(node.inputs[0]) == 1 and \
                    rule_for(node.op).runs_in_producer(node.attrs, producer):
                for p in producer.inputs:  # the producer's inputs
                    end[root[p]] = max(end[root[p]], step)
            for i in range(len(node.types)):
                port = node.port(i)
                if rule_for(node.op).is_view:
                    root[port] = root[node.inputs[0]]
                    continue
                root[port] = port
                start[port] = -1 if node.id in g.inputs else step
                end[port] = start[port]
        for p in g.outputs:
            end[root[p]] = len(order)
        buffers = [Buffer(r, _aligned(g.type_of(r).sample_size), start[r], end[r])
                   for r in start]
        placed = self._place(buffers)
        offsets = tuple((port, placed[root[port]]) for port in root)
        arena = max((placed[b.root] + b.size for b in buffers), default=0)
        naive = sum(b.size for b in buffers)
        plan = MemoryPlan(offsets, arena, naive)
        changed = int(plan != graph.memory_plan)
        g.memory_plan = plan
        return PassResult(g, changed)

    @staticmethod
    def _place(buffers: list[Buffer]) -> dict[Port, int]:
        placed: dict[Port, int] = {}
        done: list[Buffer] = []
        for b in sorted(buffers, key=lambda b: (-b.size, b.start, b.root)):
            busy = sorted((placed[o.root], placed[o.root] + o.size) for o in done
                          if o.start <= b.end and b.start <= o.end)
            offset = 0
            for lo, hi in busy:
                if offset + b.size <= lo:
                    break
                offset = max(offset, hi)
            placed[b.root] = offset
            done.append(b)
        return placed
