"""A symbolic graph (inputs with unknown sizes besides the batch) made
concrete for one set of input shapes: what a variable-length artifact, or a
traced Graph compiled directly, runs per shape (runtime/variable.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from layerc.ir.errors import ShapeError
from layerc.ir.graph import Graph
from layerc.ir.node import Node
from layerc.ir.ops.conv import conv_variant
from layerc.ir.ops.spatial import split, window_pads
from layerc.ir.registry import rule_for
from layerc.ir.types import TensorType


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


def _has(attrs: object, name: str) -> bool:
    return any(f.name == name for f in dataclasses.fields(attrs))  # type: ignore[arg-type]


def specialized_window(node: Node, x: TensorType) -> Any:
    """The attrs of a window op over input `x` with the explicit (before,
    after) pads per spatial axis that its padding gives, and, for attrs with
    a `variant` (convolution), the kernel variant (ir/ops/conv.py's
    conv_variant): what the specialize-padding pass writes, and what an
    artifact's graph must hold. Other nodes' attrs as they are."""
    window = rule_for(node.op).window
    a = node.attrs
    if window is None or not _has(a, "pads"):
        return a
    w = window(a)
    pads = window_pads(x, a.data_format, w)
    changes: dict[str, object] = {"pads": pads}
    if _has(a, "variant"):
        _, channels = split(x, a.data_format, len(w.kernel))
        changes["variant"] = conv_variant(w, a.data_format, channels, a.filters, pads, a.groups)
    return dataclasses.replace(a, **changes)
