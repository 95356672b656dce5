"""dce: dead-code elimination of nodes no graph output depends on."""

from __future__ import annotations

from dataclasses import dataclass

from layerc.ir import Graph
from layerc.passes.base import Pass, PassResult


@dataclass(frozen=True)
class DeadCodeElimination(Pass):
    """Removes every node that no output reaches, keeping the graph inputs
    (they are the model's signature). Unused weights go too."""

    name = "dce"

    def run(self, graph: Graph) -> PassResult:
        import networkx as nx  # imported late: see layerc.ir.graph

        g = graph.copy()
        nxg = g.nx_graph
        live: set[str] = set(g.inputs)
        for port in g.outputs:
            live.add(port.node)
            live |= nx.ancestors(nxg, port.node)
        dead = [n.id for n in reversed(g.nodes()) if n.id not in live]
        for node_id in dead:
            g.remove(node_id)
        before = len(g.weights)
        g.prune_weights()
        return PassResult(g, len(dead) + (before - len(g.weights)))
