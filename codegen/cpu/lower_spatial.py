"""CPU lowerings of the window ops: conv, pool, global pool, locally connected.

A 1-D op is lowered as a 2-D op of height 1; the pads and the conv variant come
from the specialize-padding pass (a conv without a variant takes im2col, which
handles every case).
"""

from __future__ import annotations

import math

import numpy as np

from layerc.codegen.base import as_2d, window_maps, window_pads
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import (ACT_CODE, CONV, GLOBAL_POOL, LOCAL, POOL, V_DIRECT,
                                        V_IM2COL, VARIANTS)
from layerc.ir import Node, OpKind
from layerc.ir.ops.spatial import split


@lowers(OpKind.CONV)
def lower_conv(e: Emitter, node: Node) -> None:
    a = node.attrs
    rank = len(a.kernel)
    h, w, c, oh, ow, f = window_maps(e.graph, node, rank)
    kh, kw = as_2d(a.kernel)
    sh, sw = as_2d(a.strides)
    dh, dw = as_2d(a.dilation)
    pt, pl = window_pads(e.graph, node)
    first = a.data_format == "channels_first"
    k = kh * kw * c
    # channels last: (K, F) as Keras stores it; channels first: (F, K) with K
    # ordered (c, kh, kw) to match the patch rows of one sample.
    pack = (lambda v: np.ascontiguousarray(
        v.reshape(kh, kw, c, f).transpose(3, 2, 0, 1).reshape(f, k))) if first else None
    kernel = e.weight(node.weights[0], pack=pack)
    bias = e.weight(node.weights[1]) if a.use_bias else -1
    variant = VARIANTS.get(a.variant, V_IM2COL)  # im2col handles every case
    if first and variant == V_DIRECT:
        variant = V_IM2COL  # the direct loop is written for channels last
    scratch = e.scratch(oh * ow * k) if variant == V_IM2COL else 0
    e.instr(CONV, node, x=e.offset(node.inputs[0]), w=kernel, b=bias, y=e.offset(node.port()),
            scratch=scratch, h=h, w_=w, c=c, oh=oh, ow=ow, f=f, kh=kh, kw=kw, sh=sh, sw=sw,
            dh=dh, dw=dw, pt=pt, pl=pl, first=int(first), variant=variant,
            act=ACT_CODE[a.activation])


@lowers(OpKind.POOL)
def lower_pool(e: Emitter, node: Node) -> None:
    a = node.attrs
    h, w, c, oh, ow, _ = window_maps(e.graph, node, len(a.pool))
    kh, kw = as_2d(a.pool)
    sh, sw = as_2d(a.strides)
    pt, pl = window_pads(e.graph, node)
    e.instr(POOL, node, x=e.offset(node.inputs[0]), y=e.offset(node.port()), h=h, w_=w, c=c,
            oh=oh, ow=ow, kh=kh, kw=kw, sh=sh, sw=sw, pt=pt, pl=pl,
            first=int(a.data_format == "channels_first"), max=int(a.mode == "max"))


@lowers(OpKind.GLOBAL_POOL)
def lower_global_pool(e: Emitter, node: Node) -> None:
    a = node.attrs
    sizes, c = split(e.graph.type_of(node.inputs[0]), a.data_format, a.rank)
    e.instr(GLOBAL_POOL, node, x=e.offset(node.inputs[0]), y=e.offset(node.port()),
            spatial=math.prod(sizes), c=c, first=int(a.data_format == "channels_first"),
            max=int(a.mode == "max"), mask=e.offset(node.inputs[1]) if a.has_mask else -1)


@lowers(OpKind.LOCAL)
def lower_local(e: Emitter, node: Node) -> None:
    a = node.attrs
    h, w, c, oh, ow, f = window_maps(e.graph, node, len(a.kernel))
    kh, kw = as_2d(a.kernel)
    sh, sw = as_2d(a.strides)
    kernel = e.weight(node.weights[0])
    bias = e.weight(node.weights[1]) if a.use_bias else -1
    e.instr(LOCAL, node, x=e.offset(node.inputs[0]), w=kernel, b=bias,
            y=e.offset(node.port()), scratch=e.scratch(kh * kw * c + f), h=h, w_=w, c=c,
            oh=oh, ow=ow, f=f, kh=kh, kw=kw, sh=sh, sw=sw,
            first=int(a.data_format == "channels_first"), act=ACT_CODE[a.activation])


