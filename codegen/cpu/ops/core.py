"""CPU: the core ops (dense, activation, copies, channel transposes) as
opcodes, their kernels, the steps that run their plan rows, and the lowering
of Dense (which packs its kernel transposed; the others are shared)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from layerc.codegen import lowering
from layerc.codegen.codes import ACT
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.kernels import JIT, PARALLEL_JIT, activate
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import opcode, runs
from layerc.ir import Node, OpKind

DENSE = opcode("dense", "x w b y rows k n act")  # b: -1 when there is no bias
ACTIVATE = opcode("act", "x y size row act")
COPY = opcode("copy", "x y size")
TRANSPOSE_CS = opcode("transpose_cs", "x y channels spatial")  # (C, S) -> (S, C) per sample
_D, _A, _C, _T = DENSE.cols, ACTIVATE.cols, COPY.cols, TRANSPOSE_CS.cols

# Below this many rows a Dense is a matrix-vector product, memory-bound: it runs
# as dot products over the transposed kernel, split across threads by output.
SMALL_ROWS = 4
# ... and only when the kernel is large enough to pay for a parallel region.
PARALLEL_MIN_WEIGHTS = 32768
# prange spreads these chunks over however many threads Numba runs (a constant,
# so the compiled kernel caches; numba.get_num_threads() would not).
OUTPUT_CHUNKS = 16


# ----- kernels -----
@njit(**PARALLEL_JIT)
def _dots(x: np.ndarray, wt: np.ndarray, y: np.ndarray) -> None:
    """y = x @ wt.T for a few rows of x, threads splitting the outputs."""
    rows = x.shape[0]
    n, k = wt.shape
    per = -(-n // OUTPUT_CHUNKS)
    for c in prange(OUTPUT_CHUNKS):
        for j in range(c * per, min(n, (c + 1) * per)):
            w = wt[j]
            for r in range(rows):
                xr = x[r]
                acc = np.float32(0.0)
                for i in range(k):
                    acc += xr[i] * w[i]
                y[r, j] = acc


@njit(**JIT)
def dense(x: np.ndarray, wt: np.ndarray, b: np.ndarray, has_bias: bool, y: np.ndarray,
          act: int) -> None:
    """y = act(x @ wt.T + b): the kernel is prepacked transposed, (units, in).
    Many rows go to BLAS; a few rows of a large kernel run as parallel dots."""
    if x.shape[0] <= SMALL_ROWS and wt.size >= PARALLEL_MIN_WEIGHTS:
        _dots(x, wt, y)
    else:
        np.dot(x, wt.T, y)
    if has_bias:
        rows, cols = y.shape
        for r in range(rows):
            yr = y[r]
            for j in range(cols):
                yr[j] += b[j]
    if act != ACT.linear:
        activate(y, y, act)


@njit(**JIT)
def transpose_cs(x: np.ndarray, y: np.ndarray, batch: int, channels: int,
                 spatial: int) -> None:
    """Per sample, (C, S) -> (S, C): channels_first to channels_last."""
    size = channels * spatial
    for n in range(batch):
        xs = x[n * size: (n + 1) * size]
        ys = y[n * size: (n + 1) * size]
        for c in range(channels):
            for s in range(spatial):
                ys[s * channels + c] = xs[c * spatial + s]


# ----- steps: one plan row each -----
@runs(DENSE)
@njit(**JIT)
def run_dense(r, weights, arena, state, batch):
    rows, k, n = r[_D.rows] * batch, r[_D.k], r[_D.n]
    x = arena[r[_D.x] * batch: r[_D.x] * batch + rows * k].reshape((rows, k))
    w = weights[r[_D.w]: r[_D.w] + k * n].reshape((n, k))
    b = max(r[_D.b], 0)
    y = arena[r[_D.y] * batch: r[_D.y] * batch + rows * n].reshape((rows, n))
    dense(x, w, weights[b: b + n], r[_D.b] >= 0, y, r[_D.act])


@runs(ACTIVATE)
@njit(**JIT)
def run_activate(r, weights, arena, state, batch):
    size, row = r[_A.size] * batch, r[_A.row]
    x = arena[r[_A.x] * batch: r[_A.x] * batch + size].reshape((size // row, row))
    y = arena[r[_A.y] * batch: r[_A.y] * batch + size].reshape((size // row, row))
    activate(x, y, r[_A.act])


@runs(COPY)
@njit(**JIT)
def run_copy(r, weights, arena, state, batch):
    size, x, y = r[_C.size] * batch, r[_C.x] * batch, r[_C.y] * batch
    arena[y: y + size] = arena[x: x + size]


@runs(TRANSPOSE_CS)
@njit(**JIT)
def run_transpose_cs(r, weights, arena, state, batch):
    size = r[_T.channels] * r[_T.spatial] * batch
    transpose_cs(arena[r[_T.x] * batch: r[_T.x] * batch + size],
                 arena[r[_T.y] * batch: r[_T.y] * batch + size], batch, r[_T.channels],
                 r[_T.spatial])


# ----- lowerings (the shared ones in codegen/lowering.py emit the others) -----
@lowers(OpKind.DENSE)
def lower_dense(e: Emitter, node: Node) -> None:
    kernel = e.weight(node.weights[0], pack=lambda w: np.ascontiguousarray(w.T))
    e.instr(DENSE, node, w=kernel, **lowering.dense_operands(e, node))
