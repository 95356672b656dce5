"""fold-reshape: Reshape and Flatten become zero-copy views of a contiguous buffer.

Every buffer layerc plans is C-contiguous per batch, so a reshape never moves
data.  Flatten with data_format='channels_first' on rank > 2 first moves the
channel axis last (Keras's rule), which is a real transpose, then views.
A view of a view folds into one view of the original.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerc.ir import Graph, Node, OpKind
from layerc.ir.ops.core import TransposeAttrs, ViewAttrs
from layerc.passes.base import Pass, PassResult, rewriting


@dataclass(frozen=True)
class FoldReshape(Pass):
    """Rewrites reshape -> view, flatten -> view (or transpose + view), and
    view(view(x)) -> view(x). Requires: every non-batch dimension known."""

    name = "fold-reshape"

    def run(self, graph: Graph) -> PassResult:
        g = graph.copy()
        count = 0
        for node in g.nodes():
            if node.op is OpKind.RESHAPE or node.op is OpKind.FLATTEN:
                with rewriting(node):
                    count += self._to_view(g, g.node(node.id))
        for node in g.nodes():
            if node.op is OpKind.VIEW:
                with rewriting(node):
                    count += self._collapse(g, g.node(node.id))
        return PassResult(g, count)

    def _to_view(self, g: Graph, node: Node) -> int:
        shape = tuple(node.type.sample_shape)
        source = node.inputs[0]
        x = g.type_of(source)
        if node.op is OpKind.FLATTEN and node.attrs.data_format == "channels_first" \
                and x.rank > 2:
            perm = (0, *range(2, x.rank), 1)
            moved = g.insert_before(node.id, OpKind.TRANSPOSE, (source,), TransposeAttrs(perm),
                                    layer=node.layer, layer_kind=node.layer_kind,
                                    source=node.source, id=f"{node.id}.transpose")
            source = moved.port()
        g.replace(node.id, OpKind.VIEW, ViewAttrs(shape), inputs=(source,))  # type: ignore
        return 1

    def _collapse(self, g: Graph, node: Node) -> int:
        producer = g.node(node.inputs[0].node)
        if producer.op is not OpKind.VIEW:
            return 0
        g.replace(node.id, OpKind.VIEW, node.attrs, inputs=producer.inputs)
        if not g.users(producer.id) and producer.port() not in g.outputs:
            g.remove(producer.id)
        return 1
