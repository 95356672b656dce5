"""Tracing: from the symbolic tensors of a model to an `ir.Graph`."""

from __future__ import annotations

import dataclasses

from layerc.errors import ConfigError
from layerc.ir import Graph, OpKind, Port
from layerc.layers.base import Builder, LayerNode, SymbolicTensor
from layerc.layers.input_layer import InputLayer

TensorKey = tuple[int, int, int]


def key(t: SymbolicTensor) -> TensorKey:
    return (id(t.layer), t.node_index, t.tensor_index)


def layer_nodes(inputs: list[SymbolicTensor], outputs: list[SymbolicTensor],
                model: str) -> list[LayerNode]:
    """The layer calls between inputs and outputs, in a deterministic topological
    order (depth-first from the outputs, producers first)."""
    declared = {key(t) for t in inputs}
    order: list[LayerNode] = []
    done: set[tuple[int, int]] = set()
    active: set[tuple[int, int]] = set()

    def visit(t: SymbolicTensor) -> None:
        node_key = (id(t.layer), t.node_index)
        if node_key in done:
            return
        node = t.layer._nodes[t.node_index]
        if isinstance(t.layer, InputLayer) and key(t) not in declared:
            raise ConfigError(f"model {model}: the outputs depend on input {t.layer.name!r}, "
                              f"which is not among the model's inputs (graph disconnected)")
        if node_key in active:
            raise ConfigError(f"model {model}: the graph has a cycle at {t.layer.label()}")
        active.add(node_key)
        for x in node.inputs:
            visit(x)
        active.discard(node_key)
        done.add(node_key)
        order.append(node)

    for t in inputs:
        if not isinstance(t.layer, InputLayer):
            raise ConfigError(f"model {model}: inputs must be layerc.Input tensors, got "
                              f"{t!r} (an output of {t.layer.label()})")
        visit(t)
    for t in outputs:
        visit(t)
    return order


def trace(inputs: list[SymbolicTensor], outputs: list[SymbolicTensor], name: str,
          sample_shapes: list[tuple[int, ...]] | None = None) -> Graph:
    """The graph of the layer calls between inputs and outputs. With
    `sample_shapes` (one per input), the inputs take those shapes instead of
    their declared ones, whose unknown sizes they fill: every layer's op is
    then inferred for them (a variable-length model specialized for a
    concrete input)."""
    graph = Graph(name)
    ports: dict[TensorKey, Port] = {}
    given = {key(t): shape for t, shape in zip(inputs, sample_shapes or [])}
    for node in layer_nodes(inputs, outputs, name):
        b = Builder(graph, node.layer, node.source, node.outputs[0].node_index)
        if key(node.outputs[0]) in given and isinstance(node.layer, InputLayer):
            attrs = dataclasses.replace(node.layer.attrs(), shape=given[key(node.outputs[0])])
            ports[key(node.outputs[0])] = b.add(OpKind.INPUT, [], attrs)
            continue
        outs = node.emit(b, [ports[key(t)] for t in node.inputs])
        for t, port in zip(node.outputs, outs):
            ports[key(t)] = port
    graph.inputs = [ports[key(t)].node for t in inputs]
    graph.outputs = [ports[key(t)] for t in outputs]
    return graph
