"""CUDA: locally-connected layers (a convolution without weight sharing):
a direct kernel, a thread per output value, its launcher and lowering."""

from __future__ import annotations

from typing import Any

from layerc.codegen.windows import WINDOW_FIELDS
from layerc.codegen.cuda.kernels import ZERO, act_scalar, cuda, position
from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.launch import grid, launcher
from layerc.codegen.cuda.lower import lowers
from layerc.codegen.cuda.ops.conv import lower_window
from layerc.ir import OpKind

LOCAL = kernel("local", f"x w b y {WINDOW_FIELDS} act")


@cuda.jit
def local(x, xo, w, wo, bo, y, yo, batch, h, wd, c, oh, ow, f, kh, kw, sh, sw, first, act):
    """Locally connected: output position p has its own (kh * kw * c, f)
    kernel, rows in (kernel offsets, channel) order in both formats."""
    k = kh * kw * c
    for i in range(cuda.grid(1), batch * oh * ow * f, cuda.gridsize(1)):
        b, oy, ox, fo = position(i, oh, ow, f, first)
        p = oy * ow + ox
        wbase = wo + p * k * f + fo
        acc = ZERO
        for r in range(kh):
            yy = oy * sh + r
            for q in range(kw):
                zz = ox * sw + q
                for ch in range(c):
                    if first:
                        v = x[xo + ((b * c + ch) * h + yy) * wd + zz]
                    else:
                        v = x[xo + ((b * h + yy) * wd + zz) * c + ch]
                    acc += v * w[wbase + ((r * kw + q) * c + ch) * f]
        if bo >= 0:
            acc += w[bo + p * f + fo]
        y[yo + i] = act_scalar(acc, act)


@launcher(LOCAL)
def _local(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = batch * o["oh"] * o["ow"] * o["f"]
    if total:
        local[grid(total)](
            arena, o["x"] * batch, weights, o["w"], o["b"], arena, o["y"] * batch, batch,
            o["h"], o["w_"], o["c"], o["oh"], o["ow"], o["f"], o["kh"], o["kw"], o["sh"],
            o["sw"], o["first"], o["act"])


lowers(OpKind.LOCAL)(lower_window(LOCAL))
