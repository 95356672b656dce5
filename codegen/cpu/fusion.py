"""Which nodes the CPU backend runs as one step: a channels-last convolution
on the GEMM path and the max pooling that alone reads it (conv_pool.py runs
them band by band, so the convolution's output never leaves the cache: at
batch 64 the MNIST convnet's first convolution writes 5.5 MB that its
pooling reads back). The IR keeps both nodes, and so do the other targets;
on the CPU the pooling's lowering emits no step, its time is the
convolution's."""

from __future__ import annotations

from layerc.codegen import lowering
from layerc.codegen.base import BaseEmitter
from layerc.codegen.cpu import winograd
from layerc.ir import Node, OpKind


def gemm_path(e: BaseEmitter, conv: Node) -> bool:
    """Whether the CPU runs a convolution as its implicit GEMM (gemm.py):
    channels last, one group, and not the Winograd kernel."""
    g = lowering.window_operands(e, conv, depth=True)
    return g["first"] == 0 and conv.attrs.groups == 1 and not (
        conv.attrs.variant == "winograd" and winograd.fits(g))


def pooled_by(e: BaseEmitter, conv: Node) -> Node | None:
    """The max pooling a convolution's lowering takes into its own step: the
    convolution's only reader (not a model output), with no activation past
    the ReLU the GEMM applies, and a pooling whose windows tile the input
    exactly from the corner (strides equal to the pool, no padding); 1 or 2
    spatial axes (conv_pool.py's bands are 2-D)."""
    if conv.op is not OpKind.CONV or conv.attrs.activation not in ("linear", "relu") \
            or len(conv.attrs.kernel) > 2:
        return None
    port = conv.port()
    users = e.graph.users(conv.id)
    if len(users) != 1 or e.graph.use_count(port) != 1 or not gemm_path(e, conv):
        return None
    pool = users[0]
    if pool.op is not OpKind.POOL or pool.attrs.mode != "max":
        return None
    p = lowering.window_operands(e, pool)
    if p["first"] or p["pt"] or p["pl"] or (p["sh"], p["sw"]) != (p["kh"], p["kw"]):
        return None
    if (p["oh"], p["ow"]) != (p["h"] // p["kh"], p["w_"] // p["kw"]):
        return None
    # The pooled output is written while the input is read: plan-memory keeps
    # them apart, but a plan from elsewhere (an artifact) may not.
    x = e.offset(conv.inputs[0])
    x_size = e.graph.type_of(conv.inputs[0]).sample_size
    y_size = pool.type.sample_size
    return pool if p["y"] + y_size <= x or x + x_size <= p["y"] else None
