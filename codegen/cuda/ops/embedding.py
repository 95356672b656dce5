"""CUDA: embedding lookups (rows of a table by float32-held indices, and the
mask of Embedding(mask_zero=True)): kernel and launcher (the lowering is
shared: codegen/lowering.py)."""

from __future__ import annotations

from typing import Any

from layerc.codegen.cuda.kernels import NAN, ONE, ZERO, cuda, float32
from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.launch import grid, launcher

GATHER = kernel("gather", "x w y count dim vocabulary mask")  # mask: -1 when none


@cuda.jit
def gather(x, xo, w, wo, y, yo, mo, count, dim, vocabulary):
    """Rows of a (vocabulary, dim) table for float32 indices (truncated as
    Keras casts); an out-of-range index gives a NaN row, never a stray read.
    With mo >= 0 also the mask: 0 where the index is 0."""
    for i in range(cuda.grid(1), count * dim, cuda.gridsize(1)):
        p = i // dim
        d = i - p * dim
        v = x[xo + p]
        if v > float32(-1.0) and v < float32(vocabulary):
            y[yo + i] = w[wo + int(v) * dim + d]
        else:
            y[yo + i] = NAN
        if mo >= 0 and d == 0:
            y[mo + p] = ZERO if v > float32(-1.0) and v < ONE else ONE  # int(v) == 0


@launcher(GATHER)
def _gather(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    count = o["count"] * batch
    if count:
        mask = o["mask"] * batch if o["mask"] >= 0 else -1
        gather[grid(count * o["dim"])](arena, o["x"] * batch, weights, o["w"], arena,
                                       o["y"] * batch, mask, count, o["dim"], o["vocabulary"])
