"""Graph verification: structure, names, types and weight shapes.

Cheap enough to run on every artifact loaded: it needs no networkx (the
graph's own topological sort finds a cycle)."""

from __future__ import annotations

from layerc.ir.errors import IRError, LayercError
from layerc.ir.graph import Graph
from layerc.ir.node import Node
from layerc.ir.opkind import OpKind
from layerc.ir.printer import node_context
from layerc.ir.registry import rule_for


def _fail(graph: Graph, node: Node, message: str) -> IRError:
    return IRError(f"{node.label}: {message}\n{node_context(graph, node)}")


def verify(graph: Graph) -> None:
    """Raises IRError when the graph is malformed; returns None when it is sound."""
    nodes = graph.nodes()  # IRError on a cycle
    for i in graph.inputs:
        if i not in graph or graph.node(i).op is not OpKind.INPUT:
            raise IRError(f"graph input %{i} is not an input node")
    if len(set(graph.inputs)) != len(graph.inputs):
        raise IRError(f"graph inputs {graph.inputs} name a node twice")
    for p in graph.outputs:
        if p.node not in graph or p.index >= len(graph.node(p.node).types):
            raise IRError(f"graph output {p} does not exist")
    for node in nodes:
        _verify_node(graph, node)
        if node.op is OpKind.INPUT and node.id not in graph.inputs:
            raise _fail(graph, node, "input node is not listed among the graph inputs")


def _verify_node(graph: Graph, node: Node) -> None:
    for p in node.inputs:
        if p.node not in graph:
            raise _fail(graph, node, f"reads {p}, which does not exist")
        if p.index >= len(graph.node(p.node).types):
            raise _fail(graph, node, f"reads {p}, which has no such output")
        if not graph.has_edge(p.node, node.id):
            raise _fail(graph, node, f"edge {p.node} -> {node.id} is missing")
    in_types = graph.input_types(node)
    rule = rule_for(node.op)
    try:
        types = rule.infer(node.attrs, in_types)
    except LayercError as err:
        raise _fail(graph, node, f"type inference fails: {err}") from None
    if types != node.types:
        got = ", ".join(str(t) for t in node.types)
        want = ", ".join(str(t) for t in types)
        raise _fail(graph, node, f"stored type {got} differs from inferred {want}")
    shapes = rule.weight_shapes(node.attrs, in_types)
    if len(shapes) != len(node.weights):
        raise _fail(graph, node, f"expected {len(shapes)} weights, has {len(node.weights)}")
    for name, shape in zip(node.weights, shapes):
        w = graph.weights.get(name)
        if w is None:
            raise _fail(graph, node, f"weight {name!r} is missing")
        if tuple(w.shape) != tuple(shape):
            raise _fail(graph, node, f"weight {name!r} has shape {w.shape}, expected {shape}")
