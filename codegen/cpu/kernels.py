"""The CPU kernel library: numba.njit functions generic over shapes.

They are compiled once per machine and cached on disk (`cache=True`).  Shapes
arrive as ints; weights and activations arrive as views of flat arenas.
`error_model='numpy'` keeps float division free of Python's zero checks.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from layerc.codegen.cpu import cache  # noqa: F401  (before any @njit: the cache locator)
from layerc.codegen.cpu.opcodes import (ACT_CODE, B_ADD, B_MAX, B_MIN, B_MUL, B_SUB)

# Code loaded from Numba's cache that contains a parallel region (the few-row
# Dense) crashes unless the thread pool is up; compiling starts it, loading
# does not. Asking for the thread count starts it.
numba.get_num_threads()

JIT = dict(cache=True, nogil=True, error_model="numpy")
# Reassociation lets LLVM vectorize reductions (NUMBA_NOTES: 12x); no nnan/ninf,
# so NaN still propagates.
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
PARALLEL_JIT = dict(JIT, parallel=True, fastmath=FAST)

# Below this many rows a Dense is a matrix-vector product, memory-bound: it runs
# as dot products over the transposed kernel, split across threads by output.
SMALL_ROWS = 4
# ... and only when the kernel is large enough to pay for a parallel region.
PARALLEL_MIN_WEIGHTS = 32768
# prange spreads these chunks over however many threads Numba runs (a constant,
# so the compiled kernel caches; numba.get_num_threads() would not).
OUTPUT_CHUNKS = 16

LINEAR = ACT_CODE["linear"]
RELU = ACT_CODE["relu"]
RELU6 = ACT_CODE["relu6"]
LEAKY_RELU = ACT_CODE["leaky_relu"]
ELU = ACT_CODE["elu"]
SELU = ACT_CODE["selu"]
GELU = ACT_CODE["gelu"]
SIGMOID = ACT_CODE["sigmoid"]
HARD_SIGMOID = ACT_CODE["hard_sigmoid"]
TANH = ACT_CODE["tanh"]
SOFTMAX = ACT_CODE["softmax"]
LOG_SOFTMAX = ACT_CODE["log_softmax"]
SOFTPLUS = ACT_CODE["softplus"]
SOFTSIGN = ACT_CODE["softsign"]
SILU = ACT_CODE["silu"]
HARD_SILU = ACT_CODE["hard_silu"]
EXPONENTIAL = ACT_CODE["exponential"]
MISH = ACT_CODE["mish"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
INV_SQRT2 = 0.7071067811865476


@njit(**JIT)
def _softplus(v: float) -> float:
    return math.log1p(math.exp(-abs(v))) + max(v, 0.0)


@njit(**JIT)
def _scalar(v: float, act: int) -> float:
    """One element of an element-wise activation, in float64. Comparisons are
    written so that NaN flows through as NaN."""
    if act == RELU:
        return 0.0 if v < 0.0 else v
    if act == RELU6:
        return 0.0 if v < 0.0 else (6.0 if v > 6.0 else v)
    if act == LEAKY_RELU:
        return 0.2 * v if v < 0.0 else v
    if act == ELU:
        return math.expm1(v) if v < 0.0 else v
    if act == SELU:
        return SELU_SCALE * (SELU_ALPHA * math.expm1(v) if v < 0.0 else v)
    if act == GELU:
        return 0.5 * v * (1.0 + math.erf(v * INV_SQRT2))
    if act == SIGMOID:
        return 0.5 * (1.0 + math.tanh(0.5 * v))
    if act == HARD_SIGMOID:
        h = v / 6.0 + 0.5
        return 0.0 if h < 0.0 else (1.0 if h > 1.0 else h)
    if act == TANH:
        return math.tanh(v)
    if act == SOFTPLUS:
        return _softplus(v)
    if act == SOFTSIGN:
        return v / (abs(v) + 1.0)
    if act == SILU:
        return v * 0.5 * (1.0 + math.tanh(0.5 * v))
    if act == HARD_SILU:
        h = v / 6.0 + 0.5
        return v * (0.0 if h < 0.0 else (1.0 if h > 1.0 else h))
    if act == EXPONENTIAL:
        return math.exp(v)
    if act == MISH:
        return v * math.tanh(_softplus(v))
    return v


@njit(**JIT)
def _softmax_row(x: np.ndarray, y: np.ndarray, log: bool) -> None:
    top = -np.inf
    for j in range(x.shape[0]):
        if x[j] > top or math.isnan(x[j]):
            top = x[j]
    total = 0.0
    for j in range(x.shape[0]):
        total += math.exp(np.float64(x[j]) - top)
    if log:
        shift = top + math.log(total)
        for j in range(x.shape[0]):
            y[j] = np.float64(x[j]) - shift
    else:
        for j in range(x.shape[0]):
            y[j] = math.exp(np.float64(x[j]) - top) / total


@njit(**JIT)
def activate(x: np.ndarray, y: np.ndarray, act: int) -> None:
    """y = act(x) over rows of a 2-D array (softmax and log_softmax by row).
    x and y may be the same array."""
    rows, cols = x.shape
    if act == LINEAR:
        y[:, :] = x
        return
    if act == SOFTMAX or act == LOG_SOFTMAX:
        for r in range(rows):
            _softmax_row(x[r], y[r], act == LOG_SOFTMAX)
        return
    if act == RELU:  # the common case gets a loop LLVM can vectorize
        for r in range(rows):
            xr, yr = x[r], y[r]
            for j in range(cols):
                v = xr[j]
                yr[j] = 0.0 if v < 0.0 else v
        return
    for r in range(rows):
        xr, yr = x[r], y[r]
        for j in range(cols):
            yr[j] = _scalar(np.float64(xr[j]), act)


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
    if act != LINEAR:
        activate(y, y, act)


@njit(**JIT)
def binary(a: np.ndarray, b: np.ndarray, y: np.ndarray, op: int) -> None:
    n = y.shape[0]
    if op == B_ADD:
        for i in range(n):
            y[i] = a[i] + b[i]
    elif op == B_SUB:
        for i in range(n):
            y[i] = a[i] - b[i]
    elif op == B_MUL:
        for i in range(n):
            y[i] = a[i] * b[i]
    elif op == B_MAX:  # NaN in either input gives NaN, as numpy.maximum does
        for i in range(n):
            u, v = a[i], b[i]
            y[i] = u if (u > v or math.isnan(u)) else v
    elif op == B_MIN:
        for i in range(n):
            u, v = a[i], b[i]
            y[i] = u if (u < v or math.isnan(u)) else v


@njit(**JIT)
def concat_part(x: np.ndarray, y: np.ndarray, outer: int, inner: int, stride: int,
                start: int) -> None:
    """Copies x viewed as (outer, inner) into columns [start, start+inner) of y
    viewed as (outer, stride)."""
    for o in range(outer):
        y[o * stride + start: o * stride + start + inner] = x[o * inner: (o + 1) * inner]


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
