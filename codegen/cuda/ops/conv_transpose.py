"""CUDA: the transposed convolution (1-D as 2-D of height 1, 2-D as 3-D of
depth 1, both data formats): a thread per output value gathers the input
positions and taps that scatter onto it (i * s + t * d = o + crop), with the
bias and an element-wise activation fused (a softmax runs after, over the
last axis)."""

from __future__ import annotations

from typing import Any

from layerc.codegen import windows
from layerc.codegen.cuda.emitter import Emitter, kernel
from layerc.codegen.cuda.kernels import ZERO, act_scalar, cuda, position
from layerc.codegen.cuda.launch import grid, launcher
from layerc.codegen.cuda.lower import lowers
from layerc.codegen.cuda.ops.core import fused, row_epilogue
from layerc.ir import Node, OpKind

TRANSPOSED = kernel("conv_transpose",
                    f"x w b y {windows.WINDOW_FIELDS} {windows.DEPTH_FIELDS} act")


@cuda.jit
def conv_transpose(x, xo, w, wo, bo, y, yo, batch, d, h, wd, c, od, oh, ow, f, kd, kh, kw, sd,
                   sh, sw, dd, dh, dw, cf, ct, cl, first, act):
    """cf, ct, cl: the crops (front, top, left); a 2-D output's rows are the
    od * oh rows of a 3-D one with od = 1."""
    for i in range(cuda.grid(1), batch * od * oh * ow * f, cuda.gridsize(1)):
        b, oy, ox, fo = position(i, od * oh, ow, f, first)
        oz = oy // oh
        oy -= oz * oh
        acc = ZERO
        for rd in range(kd):
            tz = oz + cf - rd * dd
            if tz < 0 or tz % sd != 0 or tz // sd >= d:
                continue
            for r in range(kh):
                ty = oy + ct - r * dh
                if ty < 0 or ty % sh != 0 or ty // sh >= h:
                    continue
                row = (tz // sd) * h + ty // sh  # of the sample's d * h input rows
                for q in range(kw):
                    tx = ox + cl - q * dw
                    if tx < 0 or tx % sw != 0 or tx // sw >= wd:
                        continue
                    ix = tx // sw
                    tap = wo + (((rd * kh + r) * kw + q) * f + fo) * c
                    for ch in range(c):
                        if first:
                            v = x[xo + ((b * c + ch) * d * h + row) * wd + ix]
                        else:
                            v = x[xo + ((b * d * h + row) * wd + ix) * c + ch]
                        acc += v * w[tap + ch]
        if bo >= 0:
            acc += w[bo + fo]
        y[yo + i] = act_scalar(acc, act)


@launcher(TRANSPOSED)
def _conv_transpose(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = batch * o["od"] * o["oh"] * o["ow"] * o["f"]
    if total:
        conv_transpose[grid(total)](
            arena, o["x"] * batch, weights, o["w"], o["b"], arena, o["y"] * batch, batch,
            o["d_"], o["h"], o["w_"], o["c"], o["od"], o["oh"], o["ow"], o["f"], o["kd"],
            o["kh"], o["kw"], o["sd"], o["sh"], o["sw"], o["dd"], o["dh"], o["dw"], o["pf"],
            o["pt"], o["pl"], o["first"], o["act"])


@lowers(OpKind.CONV_TRANSPOSE)
def lower_conv_transpose(e: Emitter, node: Node) -> None:
    operands = windows.transpose_operands(e, node)
    act = operands.pop("act")
    e.launch(TRANSPOSED, node, **operands, act=fused(act))
    g = operands
    row_epilogue(e, node, g["y"], g["od"] * g["oh"] * g["ow"] * g["f"],
                 g["ow"] if g["first"] else g["f"], act)
