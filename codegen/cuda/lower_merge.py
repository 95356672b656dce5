"""CUDA lowerings of the merge ops."""

from __future__ import annotations

import math

from layerc.codegen.cuda.codes import B_ADD, B_MAX, B_MIN, B_MUL, B_SUB
from layerc.codegen.cuda.emitter import Emitter
from layerc.codegen.cuda.lower import lowers
from layerc.ir import Node, OpKind

_BINOP = {OpKind.ADD: B_ADD, OpKind.AVERAGE: B_ADD, OpKind.SUBTRACT: B_SUB,
          OpKind.MULTIPLY: B_MUL, OpKind.MAXIMUM: B_MAX, OpKind.MINIMUM: B_MIN}


@lowers(*_BINOP)
def lower_elementwise(e: Emitter, node: Node) -> None:
    """An n-ary merge as a chain of binary ops accumulating into the output
    (each element is read before it is written, so y may alias an input)."""
    y, size = e.offset(node.port()), node.type.sample_size
    acc = e.offset(node.inputs[0])
    for p in node.inputs[1:]:
        e.launch("binary", node, a=acc, b=e.offset(p), y=y, size=size, binop=_BINOP[node.op])
        acc = y
    if node.op is OpKind.AVERAGE:
        e.launch("divide", node, x=y, y=y, size=size, divisor=len(node.inputs))


@lowers(OpKind.CONCATENATE)
def lower_concatenate(e: Emitter, node: Node) -> None:
    axis = node.attrs.axis
    out = node.type
    outer = math.prod(out.shape[1:axis])  # type: ignore[arg-type]
    after = math.prod(out.shape[axis + 1:])  # type: ignore[arg-type]
    stride = out.shape[axis] * after  # type: ignore[operator]
    start = 0
    for p in node.inputs:
        inner = e.graph.type_of(p).shape[axis] * after  # type: ignore[operator]
        e.launch("concat", node, x=e.offset(p), y=e.offset(node.port()), outer=outer,
                 inner=inner, stride=stride, start=start)
        start += inner
