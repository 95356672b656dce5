"""The CUDA kernels of the core ops, and the device functions all kernels share.

Kernels take the flat device arenas (activations, weights) and int operands,
so one compiled kernel serves every shape and activation; arena offsets arrive
already scaled by the batch. Arithmetic stays in float32 (constants are
float32 globals, so Numba does not widen to float64); comparisons are written
so NaN flows through as NaN, as on the CPU. Importing this module loads
numba.cuda (see device.py), and is enough to compile the kernels to PTX.
"""

from __future__ import annotations

import math

import numpy as np

from layerc.codegen.cuda import device
from layerc.codegen.cuda.codes import ACT_CODE, B_ADD, B_MAX, B_MIN, B_MUL, B_SUB, LOG_SOFTMAX_CODE

cuda = device.module()  # build_program checked that a GPU or the simulator is there
float32 = np.float32

# The simulator runs every thread as a Python thread (~0.5 ms each with a
# barrier), so it gets smaller tiles; both sizes take the same code paths.
TILE = 8 if device.simulated() else 16
THREADS = 128  # per block of the one-dimensional kernels

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
LOG_SOFTMAX = LOG_SOFTMAX_CODE
SOFTPLUS = ACT_CODE["softplus"]
SOFTSIGN = ACT_CODE["softsign"]
SILU = ACT_CODE["silu"]
HARD_SILU = ACT_CODE["hard_silu"]
EXPONENTIAL = ACT_CODE["exponential"]
MISH = ACT_CODE["mish"]

ZERO = float32(0.0)
ONE = float32(1.0)
HALF = float32(0.5)
SIX = float32(6.0)
SIXTH = float32(1.0 / 6.0)
LEAK = float32(0.2)
NEG_INF = float32(-np.inf)
NAN = float32(np.nan)
SELU_ALPHA = float32(1.6732632423543772848170429916717)
SELU_SCALE = float32(1.0507009873554804934193349852946)
INV_SQRT2 = float32(0.7071067811865476)


@cuda.jit(device=True)
def softplus(v):
    # No max(): its overload does not compile as a device call (the PTX test).
    return math.log1p(math.exp(-abs(v))) + (v if v > ZERO else ZERO)


@cuda.jit(device=True)
def hard_sigmoid(v):
    h = v * SIXTH + HALF
    return ZERO if h < ZERO else (ONE if h > ONE else h)


@cuda.jit(device=True)
def act_scalar(v, act):
    """One element of an element-wise activation, in float32."""
    if act == RELU:
        return ZERO if v < ZERO else v
    if act == RELU6:
        return ZERO if v < ZERO else (SIX if v > SIX else v)
    if act == LEAKY_RELU:
        return LEAK * v if v < ZERO else v
    if act == ELU:
        return math.expm1(v) if v < ZERO else v
    if act == SELU:
        return SELU_SCALE * (SELU_ALPHA * math.expm1(v) if v < ZERO else v)
    if act == GELU:
        return HALF * v * (ONE + math.erf(v * INV_SQRT2))
    if act == SIGMOID:
        return HALF * (ONE + math.tanh(HALF * v))
    if act == HARD_SIGMOID:
        return hard_sigmoid(v)
    if act == TANH:
        return math.tanh(v)
    if act == SOFTPLUS:
        return softplus(v)
    if act == SOFTSIGN:
        return v / (abs(v) + ONE)
    if act == SILU:
        return v * HALF * (ONE + math.tanh(HALF * v))
    if act == HARD_SILU:
        return v * hard_sigmoid(v)
    if act == EXPONENTIAL:
        return math.exp(v)
    if act == MISH:
        return v * math.tanh(softplus(v))
    return v


@cuda.jit(device=True)
def row_act(buf, base, j, n, act):
    """Element j of act over buf[base: base + n]: softmax and log_softmax
    normalize over the whole row (read only), the others are element-wise."""
    if act != SOFTMAX and act != LOG_SOFTMAX:
        return act_scalar(buf[base + j], act)
    top = NEG_INF
    for i in range(n):
        v = buf[base + i]
        if v > top or math.isnan(v):
            top = v
    total = ZERO
    for i in range(n):
        total += math.exp(buf[base + i] - top)
    if act == LOG_SOFTMAX:
        return buf[base + j] - top - math.log(total)
    return math.exp(buf[base + j] - top) / total


@cuda.jit
def dense(x, xo, w, wo, bo, y, yo, m, k, n, act):
    """y[m, n] = act(x[m, k] @ w[k, n] + b), TILE x TILE outputs per block,
    the operands staged through shared memory a tile at a time."""
    xs = cuda.shared.array((TILE, TILE), float32)  # one shared array per line:
    ws = cuda.shared.array((TILE, TILE), float32)  # the simulator aliases two on one
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    row = cuda.blockIdx.y * TILE + ty
    col = cuda.blockIdx.x * TILE + tx
    acc = ZERO
    for t in range((k + TILE - 1) // TILE):
        kx = t * TILE + tx
        xs[ty, tx] = x[xo + row * k + kx] if row < m and kx < k else ZERO
        kw = t * TILE + ty
        ws[ty, tx] = w[wo + kw * n + col] if kw < k and col < n else ZERO
        cuda.syncthreads()
        for i in range(TILE):
            acc += xs[ty, i] * ws[i, tx]
        cuda.syncthreads()
    if row < m and col < n:
        if bo >= 0:
            acc += w[bo + col]
        y[yo + row * n + col] = act_scalar(acc, act)


@cuda.jit
def activate(x, xo, y, yo, size, act):
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        y[yo + i] = act_scalar(x[xo + i], act)


@cuda.jit
def softmax(x, xo, y, yo, rows, n, act):
    """softmax or log_softmax of each row of n values, a thread per row
    (x and y may be the same: a row's values are all read before any write)."""
    r = cuda.grid(1)
    if r >= rows:
        return
    base = xo + r * n
    top = NEG_INF
    for i in range(n):
        v = x[base + i]
        if v > top or math.isnan(v):
            top = v
    total = ZERO
    for i in range(n):
        total += math.exp(x[base + i] - top)
    shift = top + math.log(total)
    for i in range(n):
        v = x[base + i]
        y[yo + r * n + i] = v - shift if act == LOG_SOFTMAX else math.exp(v - top) / total


@cuda.jit
def copy(x, xo, y, yo, size):
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        y[yo + i] = x[xo + i]


@cuda.jit
def binary(a, ao, b, bo, y, yo, size, op):
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        u = a[ao + i]
        v = b[bo + i]
        if op == B_ADD:
            r = u + v
        elif op == B_SUB:
            r = u - v
        elif op == B_MUL:
            r = u * v
        elif op == B_MAX:  # NaN in either input gives NaN, as numpy.maximum does
            r = u if (u > v or math.isnan(u)) else v
        elif op == B_MIN:
            r = u if (u < v or math.isnan(u)) else v
        else:
            r = NAN
        y[yo + i] = r


@cuda.jit
def divide(x, xo, y, yo, size, divisor):
    d = float32(divisor)
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        y[yo + i] = x[xo + i] / d


@cuda.jit
def concat(x, xo, y, yo, total, inner, stride, start):
    """x viewed as (outer, inner) into columns [start, start + inner) of y
    viewed as (outer, stride); `total` = outer * inner."""
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        o = i // inner
        y[yo + o * stride + start + i - o * inner] = x[xo + i]


@cuda.jit
def transpose_cs(x, xo, y, yo, total, channels, spatial):
    """Per sample, (C, S) -> (S, C); a thread per output value."""
    size = channels * spatial
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        n = i // size
        r = i - n * size
        s = r // channels
        c = r - s * channels
        y[yo + i] = x[xo + n * size + c * spatial + s]


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
