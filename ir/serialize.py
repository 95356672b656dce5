"""JSON round trip of a graph (weights travel separately, by name)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from layerc.ir.graph import Graph
from layerc.ir.memory import MemoryPlan
from layerc.ir.node import Port
from layerc.ir.opkind import OpKind
from layerc.ir.registry import rule_for

FORMAT = 1


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _tupled(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


def to_json(graph: Graph) -> dict:
    nodes = []
    for n in graph.nodes():
        nodes.append({
            "id": n.id,
            "op": n.op.value,
            "inputs": [[p.node, p.index] for p in n.inputs],
            "attrs": {f.name: _plain(getattr(n.attrs, f.name))
                      for f in dataclasses.fields(n.attrs)},
            "types": [t.to_json() for t in n.types],
            "weights": list(n.weights),
            "layer": n.layer,
            "layer_kind": n.layer_kind,
            "source": n.source,
        })
    return {
        "format": FORMAT,
        "name": graph.name,
        "inputs": list(graph.inputs),
        "outputs": [[p.node, p.index] for p in graph.outputs],
        "nodes": nodes,
        "weights": {k: list(v.shape) for k, v in sorted(graph.weights.items())},
        "memory_plan": None if graph.memory_plan is None else graph.memory_plan.to_json(),
    }


def from_json(data: dict, weights: dict[str, np.ndarray]) -> Graph:
    """Rebuilds a graph; every node's types are re-inferred on the way."""
    graph = Graph(data["name"])
    graph.weights = dict(weights)
    for item in data["nodes"]:
        kind = OpKind(item["op"])
        attrs = rule_for(kind).attrs(**{k: _tupled(v) for k, v in item["attrs"].items()})
        node = graph.add(kind, [Port(n, i) for n, i in item["inputs"]], attrs,
                         tuple(item["weights"]), item["layer"], item["layer_kind"],
                         item["source"], id=item["id"])
        if node.id != item["id"]:
            raise ValueError(f"duplicate node id {item['id']!r} in graph JSON")
    graph.inputs = list(data["inputs"])
    graph.outputs = [Port(n, i) for n, i in data["outputs"]]
    if data.get("memory_plan") is not None:
        graph.memory_plan = MemoryPlan.from_json(data["memory_plan"])
    return graph
