"""CPU: embedding lookups (rows of a table by float32-held indices, and the
mask of Embedding(mask_zero=True)): opcode, kernels and step (the lowering is
shared: codegen/lowering.py)."""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen.cpu.kernels import JIT
from layerc.codegen.cpu.opcodes import opcode, runs

GATHER = opcode("gather", "x w y count dim vocabulary mask")  # mask: -1 when none
_G = GATHER.cols


@njit(**JIT)
def gather(indices: np.ndarray, table: np.ndarray, y: np.ndarray, dim: int) -> None:
    """Rows of a (vocabulary, dim) table. Indices arrive as float32 (exact below
    2**24) and truncate as Keras casts. The runtime rejects out-of-range model
    inputs; an out-of-range computed index gives a NaN row, never a stray read."""
    vocabulary = table.shape[0] // dim
    for i in range(indices.shape[0]):
        v = indices[i]
        if not (v > -1.0 and v < vocabulary):
            y[i * dim: (i + 1) * dim] = np.nan
            continue
        row = int(v)
        y[i * dim: (i + 1) * dim] = table[row * dim: (row + 1) * dim]


@njit(**JIT)
def nonzero(indices: np.ndarray, mask: np.ndarray) -> None:
    """Embedding(mask_zero=True)'s mask: 0 where the index is 0, else 1."""
    for i in range(indices.shape[0]):
        mask[i] = 0.0 if int(indices[i]) == 0 else 1.0


@runs(GATHER)
@njit(**JIT)
def run_gather(r, weights, arena, state, batch):
    count, dim = r[_G.count] * batch, r[_G.dim]
    table = weights[r[_G.w]: r[_G.w] + r[_G.vocabulary] * dim]
    indices = arena[r[_G.x] * batch: r[_G.x] * batch + count]
    gather(indices, table, arena[r[_G.y] * batch: r[_G.y] * batch + count * dim], dim)
    if r[_G.mask] >= 0:
        nonzero(indices, arena[r[_G.mask] * batch: r[_G.mask] * batch + count])
