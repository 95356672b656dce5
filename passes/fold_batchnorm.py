"""fold-batchnorm: a batch normalization after a Dense, Conv or
LocallyConnected folds into that layer's kernel and bias."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from layerc.ir import Graph, Node, OpKind, rule_for
from layerc.ir.ops.normalization import scale_and_shift
from layerc.passes.base import Pass, PassResult, rewrite_each


@dataclass(frozen=True)
class FoldBatchNorm(Pass):
    """Folds batch_norm(producer(x)) = producer(x) * s + t (per channel,
    ir/ops/normalization.py) into the producer: kernel * s along its last
    axis, bias * s + t (t alone when it had none), computed in float64.
    Requires: the producer's rule names its output channel axis (Dense,
    Conv, LocallyConnected) and it is the normalized axis, the producer
    applies no activation, and the normalization is its only reader (nor is
    the producer a graph output). The folded weights get new names (the
    original ones may be shared with another call of the layer); the
    normalization's activation becomes the producer's."""

    name = "fold-batchnorm"

    def run(self, graph: Graph) -> PassResult:
        return rewrite_each(graph, OpKind.BATCH_NORM, self.check, self._fold, "folded")

    @staticmethod
    def check(g: Graph, node: Node) -> str:
        """Why `node` cannot fold into its producer, or '' when it can."""
        producer = g.node(node.inputs[0].node)
        axis = rule_for(producer.op).output_channels
        if axis is None:
            return (f"producer %{producer.id} is {producer.op.value}, which has no kernel to "
                    f"fold into")
        if producer.attrs.activation != "linear":
            return f"producer %{producer.id} applies {producer.attrs.activation} first"
        if axis(producer.attrs, node.type.rank) != node.attrs.axis:
            return f"it normalizes axis {node.attrs.axis}, not %{producer.id}'s channels"
        uses = g.use_count(node.inputs[0])
        if uses != 1:
            return f"producer %{producer.id} has {uses} readers"
        return ""

    @staticmethod
    def _fold(g: Graph, node: Node) -> None:
        producer = g.node(node.inputs[0].node)
        s, t = scale_and_shift(node.attrs, [g.weights[w] for w in node.weights])
        attrs = dataclasses.replace(producer.attrs, use_bias=True,
                                    activation=node.attrs.activation)
        shapes = rule_for(producer.op).weight_shapes(attrs, g.input_types(producer))
        kernel = np.asarray(g.weights[producer.weights[0]], np.float64) * s
        bias = t if not producer.attrs.use_bias else \
            np.asarray(g.weights[producer.weights[1]], np.float64) * s + t
        bias_name = producer.weights[1] if producer.attrs.use_bias else \
            f"{producer.layer or producer.id}/bias"
        names = (f"{producer.weights[0]}+{node.id}", f"{bias_name}+{node.id}")
        g.weights[names[0]] = kernel.astype(np.float32)
        g.weights[names[1]] = np.broadcast_to(bias, shapes[1]).astype(np.float32)
        g.replace(producer.id, producer.op, attrs, weights=names)
        g.redirect(node.port(), producer.port())
        g.remove(node.id)
