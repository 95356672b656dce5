"""Which nodes the CPU backend runs as one step:
- a channels-last convolution on the GEMM path and the max pooling that
  alone reads it (conv_pool.py runs them band by band, so the convolution's
  output never leaves the cache: at batch 64 the MNIST convnet's first
  convolution writes 5.5 MB that its pooling reads back);
- a Winograd convolution and the 2x2 max pooling that alone reads it: each
  Winograd tile is one 2x2 block of outputs, one pooling window, pooled in
  the output transform (winograd.py);
- a depthwise convolution and the 1x1 convolution that alone reads it (a
  SeparableConv's two halves; ops/separable.py, band by band likewise).
The IR keeps both nodes, and so do the other targets; on the CPU the second
node's lowering emits no step, its time is the first one's."""

from __future__ import annotations

from layerc.codegen import windows
from layerc.codegen.base import BaseEmitter
from layerc.codegen.cpu import winograd
from layerc.ir import Node, OpKind, Port


def gemm_path(e: BaseEmitter, conv: Node) -> bool:
    """Whether the CPU runs a convolution as its implicit GEMM (gemm.py):
    channels last, one group, and not the Winograd kernel."""
    g = windows.window_operands(e, conv, depth=True)
    return g["first"] == 0 and conv.attrs.groups == 1 and not winograd_path(e, conv)


def winograd_path(e: BaseEmitter, conv: Node) -> bool:
    """Whether the CPU runs a convolution on its Winograd kernel
    (winograd.py): the specialize-padding pass's variant, on a window the
    kernel computes."""
    return conv.attrs.groups == 1 and conv.attrs.variant == "winograd" and winograd.fits(
        windows.window_operands(e, conv, depth=True))


def _apart(e: BaseEmitter, x: Port, y: Port) -> bool:
    """Whether tensors x and y lie apart in the arena: a fused step writes y
    while it reads x. plan-memory keeps them apart, but a plan from
    elsewhere (an artifact) may not."""
    x_at, y_at = e.offset(x), e.offset(y)
    return y_at + e.graph.type_of(y).sample_size <= x_at or \
        x_at + e.graph.type_of(x).sample_size <= y_at


def depthwise(e: BaseEmitter, conv: Node) -> bool:
    """Whether a node is a channels-last 1-D or 2-D convolution of one filter
    per channel: the CPU's vectorized depthwise kernel (grouped_conv.py)."""
    if conv.op is not OpKind.CONV or conv.attrs.groups == 1 or len(conv.attrs.kernel) > 2:
        return False
    g = windows.window_operands(e, conv)
    return g["first"] == 0 and conv.attrs.groups == g["c"] == g["f"]


def pointwise_after(e: BaseEmitter, conv: Node) -> Node | None:
    """The 1x1 convolution a depthwise convolution's lowering takes into its
    own step: its only reader (not a model output), channels last, one
    group, stride 1, no padding, on the GEMM path, no activation past the
    ReLU the GEMM applies."""
    if not depthwise(e, conv):
        return None
    users = e.graph.users(conv.id)
    if len(users) != 1 or e.graph.use_count(conv.port()) != 1:
        return None
    pw = users[0]
    if pw.op is not OpKind.CONV or pw.attrs.groups != 1 or len(pw.attrs.kernel) > 2 \
            or pw.attrs.activation not in ("linear", "relu") or not gemm_path(e, pw):
        return None
    g = windows.window_operands(e, pw)
    if (g["kh"], g["kw"], g["sh"], g["sw"], g["pt"], g["pl"]) != (1, 1, 1, 1, 0, 0):
        return None
    return pw if _apart(e, conv.inputs[0], pw.port()) else None


def fused_pointwise(e: BaseEmitter, conv: Node) -> bool:
    """Whether a convolution runs inside its depthwise producer's step."""
    if conv.op is not OpKind.CONV:
        return False
    return pointwise_after(e, e.graph.node(conv.inputs[0].node)) is conv


def pooled_by(e: BaseEmitter, conv: Node) -> Node | None:
    """The max pooling a convolution's lowering takes into its own step: the
    convolution's only reader (not a model output), with no activation past
    the ReLU the GEMM applies, and a pooling whose windows tile the input
    exactly from the corner (strides equal to the pool, no padding); 1 or 2
    spatial axes (conv_pool.py's bands are 2-D); after a Winograd
    convolution, 2x2 windows only (its output tiles)."""
    if conv.op is not OpKind.CONV or conv.attrs.activation not in ("linear", "relu") \
            or len(conv.attrs.kernel) > 2:
        return None
    port = conv.port()
    users = e.graph.users(conv.id)
    on_winograd = winograd_path(e, conv)
    if len(users) != 1 or e.graph.use_count(port) != 1 or not (
            on_winograd or gemm_path(e, conv)):
        return None
    pool = users[0]
    if pool.op is not OpKind.POOL or pool.attrs.mode != "max":
        return None
    p = windows.window_operands(e, pool)
    if p["first"] or p["pt"] or p["pl"] or (p["sh"], p["sw"]) != (p["kh"], p["kw"]):
        return None
    if (p["oh"], p["ow"]) != (p["h"] // p["kh"], p["w_"] // p["kw"]):
        return None
    if on_winograd and (p["kh"], p["kw"]) != (2, 2):
        return None
    return pool if _apart(e, conv.inputs[0], pool.port()) else None
