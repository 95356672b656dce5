"""CPU lowerings of the core ops."""

from __future__ import annotations

import math

import numpy as np

from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import ACT, ACT_CODE, COPY, DENSE, GATHER, TRANSPOSE_CS
from layerc.ir import Node, OpKind, TargetError


@lowers(OpKind.INPUT, OpKind.VIEW)
def lower_nothing(e: Emitter, node: Node) -> None:
    """Inputs are copied in by the runtime; views share their source's buffer."""


@lowers(OpKind.DENSE)
def lower_dense(e: Emitter, node: Node) -> None:
    x = e.graph.type_of(node.inputs[0])
    k, n = x.shape[-1], node.attrs.units
    rows = math.prod(x.shape[1:-1])  # type: ignore[arg-type]
    kernel = e.weight(node.weights[0], pack=lambda w: np.ascontiguousarray(w.T))
    bias = e.weight(node.weights[1]) if node.attrs.use_bias else -1
    e.instr(DENSE, node, x=e.offset(node.inputs[0]), w=kernel, b=bias,
            y=e.offset(node.port()), rows=rows, k=k, n=n, act=ACT_CODE[node.attrs.activation])


@lowers(OpKind.ACTIVATION)
def lower_activation(e: Emitter, node: Node) -> None:
    t = node.type
    e.instr(ACT, node, x=e.offset(node.inputs[0]), y=e.offset(node.port()),
            size=t.sample_size, row=t.shape[-1], act=ACT_CODE[node.attrs.activation])


@lowers(OpKind.DROPOUT, OpKind.RESHAPE)
def lower_copy(e: Emitter, node: Node) -> None:
    """Unfolded identity and reshape ops (when their passes are turned off)."""
    e.instr(COPY, node, x=e.offset(node.inputs[0]), y=e.offset(node.port()),
            size=node.type.sample_size)


@lowers(OpKind.FLATTEN)
def lower_flatten(e: Emitter, node: Node) -> None:
    x = e.graph.type_of(node.inputs[0])
    if node.attrs.data_format == "channels_first" and x.rank > 2:
        _transpose_cs(e, node, x.shape[1], x.sample_size // x.shape[1])
    else:
        lower_copy(e, node)


@lowers(OpKind.TRANSPOSE)
def lower_transpose(e: Emitter, node: Node) -> None:
    x = e.graph.type_of(node.inputs[0])
    if node.attrs.perm != (0, *range(2, x.rank), 1):
        raise TargetError(f"{node.label}: the CPU backend only moves the channel axis last; "
                          f"permutation {node.attrs.perm} is not supported")
    _transpose_cs(e, node, x.shape[1], x.sample_size // x.shape[1])


def _transpose_cs(e: Emitter, node: Node, channels: int, spatial: int) -> None:
    e.instr(TRANSPOSE_CS, node, x=e.offset(node.inputs[0]), y=e.offset(node.port()),
            channels=channels, spatial=spatial)


@lowers(OpKind.EMBEDDING)
def lower_embedding(e: Emitter, node: Node) -> None:
    x = e.graph.type_of(node.inputs[0])
    e.instr(GATHER, node, x=e.offset(node.inputs[0]), w=e.weight(node.weights[0]),
            y=e.offset(node.port()), count=x.sample_size, dim=node.attrs.output_dim,
            vocabulary=node.attrs.input_dim,
            mask=e.offset(node.port(1)) if node.attrs.mask_zero else -1)
