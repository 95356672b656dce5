"""fuse-activation: an activation becomes the epilogue of the op that feeds it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from layerc.ir import Graph, Node, OpKind, rule_for
from layerc.passes.base import Pass, PassResult, rewrite_each


@dataclass(frozen=True)
class FuseActivation(Pass):
    """Folds activation(producer(x)) into producer(x, activation=...).
    Requires: the producer's rule has an epilogue (its kernels apply its
    `activation` to their output), it has no activation yet, and the
    activation is its only reader (nor is the producer a graph output)."""

    name = "fuse-activation"

    def run(self, graph: Graph) -> PassResult:
        return rewrite_each(graph, OpKind.ACTIVATION, self.check, self._fuse, "fused")

    @staticmethod
    def _fuse(g: Graph, node: Node) -> None:
        producer = g.node(node.inputs[0].node)
        attrs = dataclasses.replace(producer.attrs, activation=node.attrs.activation)
        g.replace(producer.id, producer.op, attrs)
        g.redirect(node.port(), producer.port())
        g.remove(node.id)

    @staticmethod
    def check(g: Graph, node: Node) -> str:
        """Why `node` cannot fuse into its producer, or '' when it can."""
        producer = g.node(node.inputs[0].node)
        if not rule_for(producer.op).epilogue:
            return f"producer %{producer.id} is {producer.op.value}, which has no epilogue"
        if producer.attrs.activation != "linear":
            return f"producer %{producer.id} already applies {producer.attrs.activation}"
        uses = g.use_count(node.inputs[0])
        if uses != 1:
            return f"producer %{producer.id} has {uses} readers"
        return ""
