"""CUDA: image resizing (ir/ops/resize.py), a thread per output value, from
the per-axis tables the shared lowering stores as weight constants (index
-1: the fill value)."""

from __future__ import annotations

from typing import Any

from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.kernels import ZERO, cuda
from layerc.codegen.cuda.launch import grid, launcher

RESIZE = kernel("image_resize", "x y h w_ c oh ow taps ri rw ci cw fill first")


@cuda.jit
def image_resize(x, xo, w, y, yo, total, h, wd, c, oh, ow, taps, ri, rw, ci, cw, fill, first):
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        if first:
            ox = i % ow
            oy = (i // ow) % oh
            ch = (i // (ow * oh)) % c
            n = i // (ow * oh * c)
        else:
            ch = i % c
            ox = (i // c) % ow
            oy = (i // (c * ow)) % oh
            n = i // (c * ow * oh)
        acc = ZERO
        for ty in range(taps):
            iy = int(w[ri + oy * taps + ty])
            wy = w[rw + oy * taps + ty]
            for tx in range(taps):
                ix = int(w[ci + ox * taps + tx])
                wt = wy * w[cw + ox * taps + tx]
                if iy < 0 or ix < 0:
                    acc += wt * w[fill]
                elif first:
                    acc += wt * x[xo + ((n * c + ch) * h + iy) * wd + ix]
                else:
                    acc += wt * x[xo + ((n * h + iy) * wd + ix) * c + ch]
        y[yo + i] = acc


@launcher(RESIZE)
def _resize(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = batch * o["oh"] * o["ow"] * o["c"]
    if total:
        image_resize[grid(total)](arena, o["x"] * batch, weights, arena, o["y"] * batch, total,
                            o["h"], o["w_"], o["c"], o["oh"], o["ow"], o["taps"], o["ri"],
                            o["rw"], o["ci"], o["cw"], o["fill"], o["first"])
