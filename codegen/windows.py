"""The target-independent half of the window ops' lowerings (convolution,
pooling, locally connected, transposed convolution): their geometry
operands under the field names the kernels declare, and the pooling's
shared lowerings (registered when codegen/base.py imports this module with
lowering.py)."""

from __future__ import annotations

import math

from layerc.codegen.base import BaseEmitter, Operands, Steps, shared
from layerc.codegen.lowering import Pack, act, bias, io_operands, mask_offset
from layerc.ir import Node, OpKind, TargetError, rule_for
from layerc.ir.ops.conv_transpose import transpose_geometry
from layerc.ir.ops.spatial import split, window_pads

# The geometry operands of every window op (convolution, pooling, locally connected).
WINDOW_FIELDS = "h w_ c oh ow f kh kw sh sw dh dw pt pl first"
# A convolution's first spatial axis when it has three: input and output depth,
# window, stride, dilation and front pad (1, 1, 1, 1, 1, 0 with fewer axes, where
# the kernels' depth loops run once).
DEPTH_FIELDS = "d_ od kd sd dd pf"


def as_2d(sizes: tuple[int, ...]) -> tuple[int, int]:
    """A 1-D window op is a 2-D one of height 1; a 3-D one's last two axes."""
    return (1, sizes[0]) if len(sizes) == 1 else (sizes[-2], sizes[-1])


def window_operands(e: BaseEmitter, node: Node, depth: bool = False) -> Operands:
    """x, y and the WINDOW_FIELDS of a window op seen in 2-D: input h x w_ x c,
    output oh x ow x f, window kh x kw, strides, dilation, top/left pads (from
    specialize-padding, else from the IR's window rule; the bottom/right pads
    only bound loops) and whether the data format is channels first. With
    `depth`, the DEPTH_FIELDS too, and the 2-D fields are the last two of
    three spatial axes; without it an op of three spatial axes is refused
    (its kernel would drop the depth)."""
    a = node.attrs
    window = rule_for(node.op).window
    if window is None:
        raise TargetError(f"{node.label}: {node.op.value} has no window")
    w = window(a)
    rank = len(w.kernel)
    if rank > 2 and not depth:
        raise TargetError(f"{node.label}: this {node.op.value} kernel runs 1 or 2 spatial "
                          f"axes, not {rank}")
    x = e.graph.type_of(node.inputs[0])
    sizes, c = split(x, a.data_format, rank)
    out_sizes, f = split(node.type, a.data_format, rank)
    pads = getattr(a, "pads", None) or window_pads(x, a.data_format, w)
    (h, wd), (oh, ow) = as_2d(sizes), as_2d(out_sizes)
    (kh, kw), (sh, sw), (dh, dw) = as_2d(w.kernel), as_2d(w.strides), as_2d(w.dilation)
    pt, pl = (0, pads[0][0]) if len(pads) == 1 else (pads[-2][0], pads[-1][0])
    operands = {**io_operands(e, node), "h": h, "w_": wd, "c": c, "oh": oh, "ow": ow, "f": f,
                "kh": kh, "kw": kw, "sh": sh, "sw": sw, "dh": dh, "dw": dw, "pt": pt,
                "pl": pl, "first": int(a.data_format == "channels_first")}
    if depth:
        three = rank == 3
        operands.update({"d_": sizes[0] if three else 1, "od": out_sizes[0] if three else 1,
                         "kd": w.kernel[0] if three else 1, "sd": w.strides[0] if three else 1,
                         "dd": w.dilation[0] if three else 1,
                         "pf": pads[0][0] if three else 0})
    return operands


def transpose_operands(e: BaseEmitter, node: Node) -> Operands:
    """A transposed convolution's operands in the WINDOW_FIELDS and the
    DEPTH_FIELDS (pf, pt, pl: the front, top and left crops of
    ir/ops/conv_transpose.py, which may be negative; a 1-D or 2-D one is the
    depth-1 case, as in window_operands), its kernel as Keras stores it, bias
    and activation."""
    a = node.attrs
    rank = len(a.kernel)
    x = e.graph.type_of(node.inputs[0])
    sizes, c = split(x, a.data_format, rank)
    out_sizes, f = split(node.type, a.data_format, rank)
    crops = tuple(transpose_geometry(a, n, i)[1] for i, n in enumerate(sizes))
    (h, wd), (oh, ow) = as_2d(sizes), as_2d(out_sizes)
    (kh, kw), (sh, sw), (dh, dw) = as_2d(a.kernel), as_2d(a.strides), as_2d(a.dilation)
    pt, pl = (0, crops[0]) if rank == 1 else as_2d(crops)
    if rank == 3:
        depth = {"d_": sizes[0], "od": out_sizes[0], "kd": a.kernel[0], "sd": a.strides[0],
                 "dd": a.dilation[0], "pf": crops[0]}
    else:
        depth = {"d_": 1, "od": 1, "kd": 1, "sd": 1, "dd": 1, "pf": 0}
    return {**io_operands(e, node), "h": h, "w_": wd, "c": c, "oh": oh, "ow": ow, "f": f,
            "kh": kh, "kw": kw, "sh": sh, "sw": sw, "dh": dh, "dw": dw, "pt": pt, "pl": pl,
            "first": int(a.data_format == "channels_first"), **depth,
            "w": e.weight(node.weights[0]), "b": bias(e, node), "act": act(a.activation)}


def weighted_window_operands(e: BaseEmitter, node: Node, kernel: int,
                             bias_pack: Pack | None = None, depth: bool = False) -> Operands:
    """A convolution's or locally-connected layer's window operands with its
    weights: `w` the kernel's offset (packed as the target chose), `b` the
    bias's (-1: none; packed by `bias_pack` if given), `act` its activation;
    `depth` as in window_operands."""
    return {**window_operands(e, node, depth), "w": kernel, "b": bias(e, node, bias_pack),
            "act": act(node.attrs.activation)}


@shared(OpKind.POOL)
def pool(e: BaseEmitter, node: Node) -> Steps:
    """One `pool` step over 1 or 2 spatial axes (`planes`: 2-D maps per
    sample, one here); over three, pool_3d's two."""
    if len(node.attrs.pool) == 3:
        return pool_3d(e, node)
    return [("pool", {**window_operands(e, node), "planes": 1,
                      "max": int(node.attrs.mode == "max")})]


def pool_3d(e: BaseEmitter, node: Node) -> Steps:
    """A 3-D pooling as two 2-D ones, since a box window is separable (the
    max of maxima; the average of averages, each over its in-bounds cells,
    whose counts multiply): over each depth slice's rows and columns into
    scratch, then over depth, each run by the 2-D `pool` kernel on a view of
    the buffer. Channels last, (D, H, W, C) is D planes of (H, W, C), and
    its depth a column of height D and width 1 over OH * OW * C channels;
    channels first, (C, D, H, W) is C * D channel planes, and its depth C
    planes of that column over OH * OW channels."""
    a = node.attrs
    g = window_operands(e, node, depth=True)
    c, oh, ow, first = g["c"], g["oh"], g["ow"], g["first"]
    d = g["d_"]
    mid = e.scratch(d * oh * ow * c)
    is_max = int(a.mode == "max")
    planes = {**g, "y": mid, "planes": 1 if first else d, "max": is_max}
    for name in DEPTH_FIELDS.split():
        del planes[name]
    if first:
        planes.update(c=c * d, f=c * d)
    inner = oh * ow if first else oh * ow * c
    column = {"x": mid, "y": g["y"], "h": d, "w_": 1, "c": inner, "oh": g["od"], "ow": 1,
              "f": inner, "kh": g["kd"], "kw": 1, "sh": g["sd"], "sw": 1, "dh": 1, "dw": 1,
              "pt": g["pf"], "pl": 0, "first": 0, "planes": c if first else 1, "max": is_max}
    return [("pool", planes), ("pool", column)]


@shared(OpKind.GLOBAL_POOL)
def global_pool(e: BaseEmitter, node: Node) -> Steps:
    """Max or average over every position; a masked average over the unmasked."""
    a = node.attrs
    sizes, c = split(e.graph.type_of(node.inputs[0]), a.data_format, a.rank)
    return [("global_pool", {**io_operands(e, node), "spatial": math.prod(sizes), "c": c,
                             "first": int(a.data_format == "channels_first"),
                             "max": int(a.mode == "max"), "mask": mask_offset(e, node)})]
