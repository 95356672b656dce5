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

from layerc.ir import Graph, MemoryPlan, Port
from layerc.ir.memory import ALIGN, Buffer, buffers
from layerc.passes.base import Pass, PassResult

def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass(frozen=True)
class PlanMemory(Pass):
    """Annotates the graph with a MemoryPlan. Requires: known sample shapes."""

    name = "plan-memory"

    def run(self, graph: Graph) -> PassResult:
        g = graph.copy()
        bufs = [Buffer(b.root, _aligned(b.size), b.start, b.end, b.tensors)
                for b in buffers(g)]
        placed = self._place(bufs)
        root = {port: b.root for b in bufs for port in b.tensors}
        offsets = tuple((port, placed[root[port]]) for node in g.nodes()
                        for port in map(node.port, range(len(node.types))))
        arena = max((placed[b.root] + b.size for b in bufs), default=0)
        naive = sum(b.size for b in bufs)
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

