"""drop-dropout: Dropout is the identity at inference, so its readers read its input."""

from __future__ import annotations

from dataclasses import dataclass

from layerc.ir import Graph, OpKind
from layerc.passes.base import Pass, PassResult, rewriting


@dataclass(frozen=True)
class DropDropout(Pass):
    """Removes every dropout node, redirecting its users to its input.
    Requires: nothing (dropout never changes values at inference)."""

    name = "drop-dropout"

    def run(self, graph: Graph) -> PassResult:
        g = graph.copy()
        count = 0
        for node in g.nodes():
            if node.op is not OpKind.DROPOUT:
                continue
            node = g.node(node.id)  # earlier rewrites may have changed its inputs
            with rewriting(node):
                g.redirect(node.port(), node.inputs[0])
                g.remove(node.id)
            count += 1
        return PassResult(g, count)
