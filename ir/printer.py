"""The stable text form of a graph: the same graph always prints the same text."""

from __future__ import annotations

import dataclasses

from layerc.ir.graph import Graph
from layerc.ir.node import Node


def format_attrs(attrs: object) -> str:
    fields = dataclasses.fields(attrs)  # type: ignore[arg-type]
    return ", ".join(f"{f.name}={getattr(attrs, f.name)!r}" for f in fields)


def format_node(graph: Graph, node: Node, locations: bool = False) -> str:
    args = ", ".join(str(p) for p in node.inputs)
    text = f"%{node.id} = {node.op.value}({args})"
    attrs = format_attrs(node.attrs)
    if attrs:
        text += f" {{{attrs}}}"
    if node.weights:
        ws = ", ".join(f"{w}: {_weight_type(graph, w)}" for w in node.weights)
        text += f" [{ws}]"
    types = ", ".join(str(t) for t in node.types)
    text += f" : {types}"
    if graph.memory_plan is not None:
        offs = [str(off) for p, off in graph.memory_plan.offsets if p.node == node.id]
        if offs:
            text += " @" + ",".join(offs)
    if locations and node.layer:
        text += f"  # {node.label}"
    return text


def node_context(graph: Graph, node: Node) -> str:
    """`node` (marked `>`) with its producers and users, for error messages."""
    around = [graph.node(p.node) for p in node.inputs if p.node in graph]
    around += [node] + graph.users(node.id)
    seen: list[str] = []
    for n in around:
        line = ("> " if n is node else "  ") + format_node(graph, n)
        if line not in seen:
            seen.append(line)
    return "\n".join(seen)


def _weight_type(graph: Graph, name: str) -> str:
    w = graph.weights.get(name)
    if w is None:
        return "missing"
    return f"f32[{','.join(str(d) for d in w.shape)}]"


def to_text(graph: Graph, locations: bool = False) -> str:
    ins = ", ".join(f"%{i}: {graph.node(i).type}" for i in graph.inputs)
    lines = [f"graph {graph.name}({ins}) {{"]
    for node in graph.nodes():
        lines.append("  " + format_node(graph, node, locations))
    lines.append("  return " + ", ".join(str(p) for p in graph.outputs))
    lines.append("}")
    plan = graph.memory_plan
    if plan is not None:
        lines.append(f"# arena: {plan.arena_size} floats per sample "
                     f"(naive {plan.naive_size}, saves "
                     f"{100 - 100 * plan.arena_size // max(plan.naive_size, 1)}%)")
    return "\n".join(lines) + "\n"
