"""CPU: embedding lookups (rows of a table by float32-held indices, and the
mask of Embedding(mask_zero=True)): opcode, kernels and step (the lowering is
shared: codegen/lowering.py)."""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen.cpu import team
from layerc.codegen.cpu.kernels import FAST_JIT, JIT
from layerc.codegen.cpu.opcodes import arena, opcode, runs, touches, weights

GATHER = opcode("gather", "x w y count dim vocabulary mask")  # mask: -1 when none
_G = GATHER.cols


@touches(GATHER)
def _gather_touches(r):
    return (arena(r, "x", r.count) + arena(r, "y", r.count * r.dim)
            + weights(r, "w", r.vocabulary * r.dim) + arena(r, "mask", r.count))
# Fewer floats than this are gathered in the calling thread (a parallel
# region costs a few microseconds).
SPLIT_FLOATS = 64 * 1024


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


@njit(**FAST_JIT)
def gather_split(indices: np.ndarray, table: np.ndarray, y: np.ndarray, dim: int,
                 chunks: int) -> None:
    """`gather` with the rows split over layerc's threads: a large table's
    rows come from memory, and two threads keep twice the reads in flight."""
    count = indices.shape[0]
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        lo, hi = ci * count // chunks, (ci + 1) * count // chunks
        gather(indices[lo:hi], table, y[lo * dim: hi * dim], dim)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@runs(GATHER)
@njit(**JIT)
def run_gather(r, weights, arena, state, batch):
    count, dim = r[_G.count] * batch, r[_G.dim]
    table = weights[r[_G.w]: r[_G.w] + r[_G.vocabulary] * dim]
    indices = arena[r[_G.x] * batch: r[_G.x] * batch + count]
    y = arena[r[_G.y] * batch: r[_G.y] * batch + count * dim]
    chunks = min(team.size(), count * dim // SPLIT_FLOATS)
    if chunks > 1:
        gather_split(indices, table, y, dim, chunks)
    elif team.lead():
        gather(indices, table, y, dim)
    if r[_G.mask] >= 0 and team.lead():
        nonzero(indices, arena[r[_G.mask] * batch: r[_G.mask] * batch + count])
