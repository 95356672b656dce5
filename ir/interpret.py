"""The NumPy reference interpreter: runs any graph with each op's reference rule.

This is the oracle every pass and backend is tested against.
"""

from __future__ import annotations

import numpy as np

from layerc.ir.graph import Graph
from layerc.ir.node import Port
from layerc.ir.opkind import OpKind
from layerc.ir.registry import rule_for


def interpret(graph: Graph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Runs `graph` on one array per graph input; returns one array per output."""
    if len(inputs) != len(graph.inputs):
        raise ValueError(f"graph {graph.name} takes {len(graph.inputs)} inputs, "
                         f"got {len(inputs)}")
    values: dict[Port, np.ndarray] = {}
    for node_id, x in zip(graph.inputs, inputs):
        values[Port(node_id, 0)] = np.asarray(x)
    for node in graph.nodes():
        if node.op is OpKind.INPUT:
            continue
        xs = [values[p] for p in node.inputs]
        ws = [graph.weights[w] for w in node.weights]
        outs = rule_for(node.op).reference(node.attrs, xs, ws)
        for i, out in enumerate(outs):
            values[Port(node.id, i)] = out
    return [values[p] for p in graph.outputs]
