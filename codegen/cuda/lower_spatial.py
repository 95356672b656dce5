"""CUDA lowerings of the window ops: conv, pool, global pool, locally connected.

A 1-D op is lowered as a 2-D op of height 1. The kernels are direct (one
thread per output value, looping over its window), so every stride, dilation
and pad takes the same path; the pads come from the specialize-padding pass or
are derived here when it did not run.
"""

from __future__ import annotations

import math

from layerc.codegen.base import as_2d, window_maps, window_pads
from layerc.codegen.cuda.codes import ACT_CODE
from layerc.codegen.cuda.emitter import Emitter
from layerc.codegen.cuda.lower import lowers
from layerc.codegen.cuda.lower_core import fused, row_epilogue
from layerc.ir import Node, OpKind
from layerc.ir.ops.spatial import split


def _softmax_rows(node: Node, oh: int, ow: int, f: int) -> tuple[int, int]:
    """(values per sample, row length) of the output's last axis in its format."""
    return oh * ow * f, (ow if node.attrs.data_format == "channels_first" else f)


@lowers(OpKind.CONV)
def lower_conv(e: Emitter, node: Node) -> None:
    a = node.attrs
    h, w, c, oh, ow, f = window_maps(e.graph, node, len(a.kernel))
    kh, kw = as_2d(a.kernel)
    sh, sw = as_2d(a.strides)
    dh, dw = as_2d(a.dilation)
    pt, pl = window_pads(e.graph, node)
    act = ACT_CODE[a.activation]
    y = e.offset(node.port())
    # The kernel stays (kh, kw, c, f) as Keras stores it, in both formats:
    # neighbouring threads compute neighbouring filters and read adjacent weights.
    e.launch("conv", node, x=e.offset(node.inputs[0]), w=e.weight(node.weights[0]),
             b=e.weight(node.weights[1]) if a.use_bias else -1, y=y, h=h, w_=w, c=c, oh=oh,
             ow=ow, f=f, kh=kh, kw=kw, sh=sh, sw=sw, dh=dh, dw=dw, pt=pt, pl=pl,
             first=int(a.data_format == "channels_first"), act=fused(act))
    row_epilogue(e, node, y, *_softmax_rows(node, oh, ow, f), act)


@lowers(OpKind.POOL)
def lower_pool(e: Emitter, node: Node) -> None:
    a = node.attrs
    h, w, c, oh, ow, _ = window_maps(e.graph, node, len(a.pool))
    kh, kw = as_2d(a.pool)
    sh, sw = as_2d(a.strides)
    pt, pl = window_pads(e.graph, node)
    e.launch("pool", node, x=e.offset(node.inputs[0]), y=e.offset(node.port()), h=h, w_=w,
             c=c, oh=oh, ow=ow, kh=kh, kw=kw, sh=sh, sw=sw, pt=pt, pl=pl,
             first=int(a.data_format == "channels_first"), max=int(a.mode == "max"))


@lowers(OpKind.GLOBAL_POOL)
def lower_global_pool(e: Emitter, node: Node) -> None:
    a = node.attrs
    sizes, c = split(e.graph.type_of(node.inputs[0]), a.data_format, a.rank)
    e.launch("global_pool", node, x=e.offset(node.inputs[0]), y=e.offset(node.port()),
             spatial=math.prod(sizes), c=c, first=int(a.data_format == "channels_first"),
             max=int(a.mode == "max"), mask=e.offset(node.inputs[1]) if a.has_mask else -1)


@lowers(OpKind.LOCAL)
def lower_local(e: Emitter, node: Node) -> None:
    a = node.attrs
    h, w, c, oh, ow, f = window_maps(e.graph, node, len(a.kernel))
    kh, kw = as_2d(a.kernel)
    sh, sw = as_2d(a.strides)
    act = ACT_CODE[a.activation]
    y = e.offset(node.port())
    e.launch("local", node, x=e.offset(node.inputs[0]), w=e.weight(node.weights[0]),
             b=e.weight(node.weights[1]) if a.use_bias else -1, y=y, h=h, w_=w, c=c, oh=oh,
             ow=ow, f=f, kh=kh, kw=kw, sh=sh, sw=sw,
             first=int(a.data_format == "channels_first"), act=fused(act))
    row_epilogue(e, node, y, *_softmax_rows(node, oh, ow, f), act)
