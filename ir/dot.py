"""Graphviz DOT export of a graph, for `layerc dump --format dot`."""

from __future__ import annotations

from layerc.ir.graph import Graph
from layerc.ir.printer import format_attrs


def _quote(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + text + '"'


def to_dot(graph: Graph) -> str:
    lines = [f"digraph {_quote(graph.name)} {{", "  node [shape=box, fontname=monospace];"]
    for node in graph.nodes():
        label = f"{node.id}\n{node.op.value}"
        attrs = format_attrs(node.attrs)
        if attrs:
            label += f"\n{attrs}"
        label += f"\n{', '.join(str(t) for t in node.types)}"
        lines.append(f"  {_quote(node.id)} [label={_quote(label)}];")
        for p in node.inputs:
            lines.append(f"  {_quote(p.node)} -> {_quote(node.id)};")
    for i, p in enumerate(graph.outputs):
        lines.append(f"  {_quote('output_' + str(i))} [shape=oval];")
        lines.append(f"  {_quote(p.node)} -> {_quote('output_' + str(i))};")
    lines.append("}")
    return "\n".join(lines) + "\n"
