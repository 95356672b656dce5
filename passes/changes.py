"""What a pass changed, in words: nodes removed, added and rewritten (with the
attributes and inputs that differ), and the memory plan. The pass
manager records it for every pass; `layerc inspect` and artifacts show it."""

from __future__ import annotations

import dataclasses
from typing import Any

from layerc.ir import Graph, Node


def _value(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v)


def _node_changes(old: Node, new: Node) -> str:
    parts = []
    if old.op is not new.op:
        parts.append(f"{old.op.value} -> {new.op.value}")
    if type(old.attrs) is type(new.attrs):
        for f in dataclasses.fields(old.attrs):
            a, b = getattr(old.attrs, f.name), getattr(new.attrs, f.name)
            if a != b:
                parts.append(f"{f.name}={_value(a)} -> {_value(b)}")
    if old.inputs != new.inputs:
        parts.append("reads " + ", ".join(str(p) for p in new.inputs) + " instead of "
                     + ", ".join(str(p) for p in old.inputs))
    return f"%{new.id}: " + "; ".join(parts or ["rebuilt"])


def describe_changes(before: Graph, after: Graph) -> tuple[str, ...]:
    """One line per change from `before` to `after`, in the order of `after`."""
    lines: list[str] = []
    removed = [n.id for n in before.nodes() if n.id not in after]
    if removed:
        lines.append("removed " + ", ".join(f"%{n}" for n in removed))
    for node in after.nodes():
        if node.id not in before:
            lines.append(f"added %{node.id} = {node.op.value}")
        elif before.node(node.id) != node:
            lines.append(_node_changes(before.node(node.id), node))
    if before.outputs != after.outputs:
        lines.append("outputs " + ", ".join(str(p) for p in after.outputs))
    plan = after.memory_plan
    if plan is not None and plan != before.memory_plan:
        lines.append(f"planned the arena: {plan.arena_size} floats per sample "
                     f"(naive {plan.naive_size})")
    return tuple(lines)
