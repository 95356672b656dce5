"""CUDA: convolution (1-D as 2-D of height 1, 2-D as 3-D of depth 1, both
data formats): a direct kernel, a thread per output value, so every stride,
dilation and pad takes the same path; its launcher and lowering (shared with
the locally-connected kernel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from layerc.codegen import windows
from layerc.codegen.cuda.kernels import ZERO, act_scalar, cuda, position
from layerc.codegen.cuda.emitter import Emitter, kernel
from layerc.codegen.cuda.launch import grid, launcher
from layerc.codegen.cuda.lower import lowers
from layerc.codegen.schema import Schema
from layerc.codegen.cuda.ops.core import fused, row_epilogue
from layerc.ir import Node, OpKind

CONV = kernel("conv", f"x w b y {windows.WINDOW_FIELDS} {windows.DEPTH_FIELDS} groups act")


@cuda.jit
def conv(x, xo, w, wo, bo, y, yo, batch, d, h, wd, c, od, oh, ow, f, kd, kh, kw, sd, sh, sw, dd,
         dh, dw, pf, pt, pl, first, groups, act):
    """A direct convolution with explicit front/top/left pads (cells outside
    the input count as zeros) and a fused bias + element-wise activation; with
    several groups a filter reads its group's channels (the kernel is
    (kd, kh, kw, c / groups, f)). A 2-D convolution is the depth-1 case: its
    output rows are the od * oh rows of a 3-D one."""
    cg = c // groups
    for i in range(cuda.grid(1), batch * od * oh * ow * f, cuda.gridsize(1)):
        b, oy, ox, fo = position(i, od * oh, ow, f, first)
        oz = oy // oh
        oy -= oz * oh
        base = (fo // (f // groups)) * cg
        acc = ZERO
        for rd in range(kd):
            zd = oz * sd - pf + rd * dd
            if zd < 0 or zd >= d:
                continue
            for r in range(kh):
                yy = oy * sh - pt + r * dh
                if yy < 0 or yy >= h:
                    continue
                row = zd * h + yy  # of the sample's d * h input rows
                for q in range(kw):
                    zz = ox * sw - pl + q * dw
                    if zz < 0 or zz >= wd:
                        continue
                    wbase = wo + ((rd * kh + r) * kw + q) * cg * f + fo
                    for k in range(cg):
                        ch = base + k
                        if first:
                            v = x[xo + ((b * c + ch) * d * h + row) * wd + zz]
                        else:
                            v = x[xo + ((b * d * h + row) * wd + zz) * c + ch]
                        acc += v * w[wbase + k * f]
        if bo >= 0:
            acc += w[bo + fo]
        y[yo + i] = act_scalar(acc, act)


@launcher(CONV)
def _conv(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = batch * o["od"] * o["oh"] * o["ow"] * o["f"]
    if total:
        conv[grid(total)](
            arena, o["x"] * batch, weights, o["w"], o["b"], arena, o["y"] * batch, batch,
            o["d_"], o["h"], o["w_"], o["c"], o["od"], o["oh"], o["ow"], o["f"], o["kd"],
            o["kh"], o["kw"], o["sd"], o["sh"], o["sw"], o["dd"], o["dh"], o["dw"], o["pf"],
            o["pt"], o["pl"], o["first"], o["groups"], o["act"])


def lower_window(kind: Schema) -> Callable[[Emitter, Node], None]:
    """The lowering of a weighted window op (conv, local) through kernel
    `kind`: the kernel stays as Keras stores it, in both formats (neighbouring
    threads compute neighbouring filters and read adjacent weights), and a
    softmax activation runs after, over the output's last axis."""
    def lower(e: Emitter, node: Node) -> None:
        depth = "d_" in kind.fields
        operands = windows.weighted_window_operands(e, node, e.weight(node.weights[0]),
                                                     depth=depth)
        if "groups" in kind.fields:
            operands["groups"] = node.attrs.groups
        act = operands.pop("act")
        e.launch(kind, node, **operands, act=fused(act))
        g = operands
        row_epilogue(e, node, g["y"], g.get("od", 1) * g["oh"] * g["ow"] * g["f"],
                     g["ow"] if g["first"] else g["f"], act)
    return lower


lowers(OpKind.CONV)(lower_window(CONV))
