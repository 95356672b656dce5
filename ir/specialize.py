"""A symbolic graph (inputs with unknown sizes besides the batch) made
concrete for one set of input shapes: what a variable-length artifact, or a
traced Graph compiled directly, runs per shape (runtime/variable.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from layerc.ir.errors import ShapeError
from layerc.ir.graph import Graph


def with_input_shapes(graph: Graph, shapes: Sequence[Sequence[int]]) -> Graph:
    """`graph` with its inputs' sample shapes set to `shapes` (in input
    order) and every node's types inferred again; a node whose op cannot
    take the sizes raises a ShapeError naming it."""
    given = dict(zip(graph.inputs, shapes))
    concrete = Graph(graph.name)
    concrete.weights = dict(graph.weights)
    for node in graph.nodes():
        attrs = node.attrs
        if node.id in given:
            attrs = dataclasses.replace(attrs, shape=tuple(int(d) for d in given[node.id]))
        try:
            concrete.add(node.op, node.inputs, attrs, node.weights, node.layer,
                         node.layer_kind, node.source, id=node.id)
        except ShapeError as err:
            where = f"layer {node.layer!r}" if node.layer else f"node %{node.id}"
            raise ShapeError(f"{where} ({node.op.value}) for input shapes "
                             f"{[tuple(s) for s in shapes]}: {err}") from None
    concrete.inputs = list(graph.inputs)
    concrete.outputs = list(graph.outputs)
    return concrete
