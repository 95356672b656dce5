"""CUDA lowerings of the core ops: dense, activation, copies, transposes, embedding."""

from __future__ import annotations

import math

from layerc.codegen.cuda.codes import ACT_CODE, ROW_WISE_CODES
from layerc.codegen.cuda.emitter import Emitter
from layerc.codegen.cuda.lower import lowers
from layerc.ir import Node, OpKind, TargetError


@lowers(OpKind.INPUT, OpKind.VIEW)
def lower_nothing(e: Emitter, node: Node) -> None:
    """Inputs are copied in by the runtime; views share their source's buffer."""


def fused(act: int) -> int:
    """The activation a kernel applies as its epilogue: softmax and
    log_softmax need whole rows, so the kernel leaves them to `row_epilogue`."""
    return ACT_CODE["linear"] if act in ROW_WISE_CODES else act


def row_epilogue(e: Emitter, node: Node, y: int, size: int, row: int, act: int) -> None:
    """The row kernel after a kernel whose activation could not be fused."""
    if act in ROW_WISE_CODES:
        e.launch("softmax", node, x=y, y=y, size=size, row=row, act=act)


def dense(e: Emitter, node: Node, x: int, w: int, b: int, y: int, rows: int, k: int, n: int,
          act: int) -> None:
    """A tiled GEMM y = act(x @ w + b) over `rows` rows per sample; w is (k, n),
    Keras's own layout, so it needs no packing."""
    e.launch("dense", node, x=x, w=w, b=b, y=y, rows=rows, k=k, n=n, act=fused(act))
    row_epilogue(e, node, y, rows * n, n, act)


@lowers(OpKind.DENSE)
def lower_dense(e: Emitter, node: Node) -> None:
    x = e.graph.type_of(node.inputs[0])
    k, n = x.shape[-1], node.attrs.units
    rows = math.prod(x.shape[1:-1])  # type: ignore[arg-type]
    bias = e.weight(node.weights[1]) if node.attrs.use_bias else -1
    dense(e, node, e.offset(node.inputs[0]), e.weight(node.weights[0]), bias,
          e.offset(node.port()), rows, k, n, ACT_CODE[node.attrs.activation])  # type: ignore


@lowers(OpKind.ACTIVATION)
def lower_activation(e: Emitter, node: Node) -> None:
    t = node.type
    act = ACT_CODE[node.attrs.activation]
    kernel = "softmax" if act in ROW_WISE_CODES else "act"
    e.launch(kernel, node, x=e.offset(node.inputs[0]), y=e.offset(node.port()),
             size=t.sample_size, row=t.shape[-1], act=act)  # type: ignore[arg-type]


@lowers(OpKind.DROPOUT, OpKind.RESHAPE)
def lower_copy(e: Emitter, node: Node) -> None:
    """Unfolded identity and reshape ops (when their passes are turned off)."""
    e.launch("copy", node, x=e.offset(node.inputs[0]), y=e.offset(node.port()),
             size=node.type.sample_size)


@lowers(OpKind.FLATTEN)
def lower_flatten(e: Emitter, node: Node) -> None:
    x = e.graph.type_of(node.inputs[0])
    if node.attrs.data_format == "channels_first" and x.rank > 2:
        _transpose_cs(e, node, x.shape[1], x.sample_size // x.shape[1])  # type: ignore
    else:
        lower_copy(e, node)


@lowers(OpKind.TRANSPOSE)
def lower_transpose(e: Emitter, node: Node) -> None:
    x = e.graph.type_of(node.inputs[0])
    if node.attrs.perm != (0, *range(2, x.rank), 1):
        raise TargetError(f"{node.label}: the CUDA backend only moves the channel axis last; "
                          f"permutation {node.attrs.perm} is not supported")
    _transpose_cs(e, node, x.shape[1], x.sample_size // x.shape[1])  # type: ignore


def _transpose_cs(e: Emitter, node: Node, channels: int, spatial: int) -> None:
    e.launch("transpose_cs", node, x=e.offset(node.inputs[0]), y=e.offset(node.port()),
             channels=channels, spatial=spatial)


@lowers(OpKind.EMBEDDING)
def lower_embedding(e: Emitter, node: Node) -> None:
    x = e.graph.type_of(node.inputs[0])
    e.launch("gather", node, x=e.offset(node.inputs[0]), w=e.weight(node.weights[0]),
             y=e.offset(node.port()), count=x.sample_size, dim=node.attrs.output_dim,
             vocabulary=node.attrs.input_dim,
             mask=e.offset(node.port(1)) if node.attrs.mask_zero else -1)
