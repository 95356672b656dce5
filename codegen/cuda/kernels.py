"""What the CUDA kernels of every op family share: numba.cuda, block sizes,
float32 constants and the device functions (activations, output positions).

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

from layerc.codegen.codes import ACT
from layerc.codegen.cuda import device
from layerc.ir import activations

cuda = device.module()  # build_program checked that a GPU or the simulator is there
float32 = np.float32

# The simulator runs every thread as a Python thread (~0.5 ms each with a
# barrier), so it gets smaller tiles; both sizes take the same code paths.
TILE = 8 if device.simulated() else 16
THREADS = 128  # per block of the one-dimensional kernels

ZERO = float32(0.0)
ONE = float32(1.0)
HALF = float32(0.5)
SIX = float32(6.0)
SIXTH = float32(1.0 / 6.0)
LEAK = float32(activations.LEAKY_SLOPE)
NEG_INF = float32(-np.inf)
NAN = float32(np.nan)
SELU_ALPHA = float32(activations.SELU_ALPHA)
SELU_SCALE = float32(activations.SELU_SCALE)
INV_SQRT2 = float32(activations.INV_SQRT2)
SHRINK = float32(activations.SHRINK)
QUARTER = float32(0.25)
SQUAREPLUS_B = float32(activations.SQUAREPLUS_B)


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
    if act == ACT.relu:
        return ZERO if v < ZERO else v
    if act == ACT.relu6:
        return ZERO if v < ZERO else (SIX if v > SIX else v)
    if act == ACT.leaky_relu:
        return LEAK * v if v < ZERO else v
    if act == ACT.elu:
        return math.expm1(v) if v < ZERO else v
    if act == ACT.selu:
        return SELU_SCALE * (SELU_ALPHA * math.expm1(v) if v < ZERO else v)
    if act == ACT.gelu:
        return HALF * v * (ONE + math.erf(v * INV_SQRT2))
    if act == ACT.sigmoid:
        return HALF * (ONE + math.tanh(HALF * v))
    if act == ACT.hard_sigmoid:
        return hard_sigmoid(v)
    if act == ACT.tanh:
        return math.tanh(v)
    if act == ACT.softplus:
        return softplus(v)
    if act == ACT.softsign:
        return v / (abs(v) + ONE)
    if act == ACT.silu:
        return v * HALF * (ONE + math.tanh(HALF * v))
    if act == ACT.hard_silu:
        return v * hard_sigmoid(v)
    if act == ACT.exponential:
        return math.exp(v)
    if act == ACT.mish:
        return v * math.tanh(softplus(v))
    if act == ACT.celu:
        return math.expm1(v) if v < ZERO else v
    if act == ACT.hard_tanh:
        return -ONE if v < -ONE else (ONE if v > ONE else v)
    if act == ACT.hard_shrink:
        return ZERO if -SHRINK <= v <= SHRINK else v
    if act == ACT.soft_shrink:
        if v > SHRINK:
            return v - SHRINK
        return v + SHRINK if v < -SHRINK else (v if math.isnan(v) else ZERO)
    if act == ACT.tanh_shrink:
        return v - math.tanh(v)
    if act == ACT.log_sigmoid:
        return -softplus(-v)
    if act == ACT.sparse_plus:
        if v <= -ONE:
            return ZERO
        return QUARTER * (v + ONE) * (v + ONE) if v < ONE else v
    if act == ACT.sparse_sigmoid:
        h = HALF * (v + ONE)
        return ZERO if h < ZERO else (ONE if h > ONE else h)
    if act == ACT.squareplus:
        return HALF * (v + math.sqrt(v * v + SQUAREPLUS_B))
    return v


@cuda.jit(device=True)
def softmax_terms(buf, base, n):
    """(max, sum of exp(v - max)) over buf[base: base + n]; NaN wins the max."""
    top = NEG_INF
    for i in range(n):
        v = buf[base + i]
        if v > top or math.isnan(v):
            top = v
    total = ZERO
    for i in range(n):
        total += math.exp(buf[base + i] - top)
    return top, total


@cuda.jit(device=True)
def sparsemax_tau(buf, base, n):
    """Keras 3.15's sparsemax threshold (ir/activations.py) over buf[base:
    base + n] without sorting: value i, of rank r_i with running sum s_i
    (the count and sum of the values >= it), is in the support when
    1 + r_i * v_i > s_i; tau = (sum of the support's s_i - 1) / its size."""
    size, support_sum = ZERO, ZERO  # float32 counts keep the arithmetic in float32
    for i in range(n):
        v = buf[base + i]
        count, total = ZERO, ZERO
        for j in range(n):
            if buf[base + j] >= v:
                count += ONE
                total += buf[base + j]
        if ONE + count * v > total:
            size += ONE
            support_sum += total
    return (support_sum - ONE) / (size if size > ZERO else ONE)


@cuda.jit(device=True)
def row_act(buf, base, j, n, act):
    """Element j of act over buf[base: base + n]: softmax and log_softmax
    normalize over the whole row (read only), the others are element-wise."""
    if act == ACT.sparsemax:
        v = buf[base + j] - sparsemax_tau(buf, base, n)
        return v if v > ZERO or math.isnan(v) else ZERO
    if act != ACT.softmax and act != ACT.log_softmax:
        return act_scalar(buf[base + j], act)
    top, total = softmax_terms(buf, base, n)
    if act == ACT.log_softmax:
        return buf[base + j] - top - math.log(total)
    return math.exp(buf[base + j] - top) / total


@cuda.jit(device=True)
def position(i, oh, ow, f, first):
    """(sample, row, column, channel) of output value i."""
    if first:
        x = i % ow
        r = i // ow
        y = r % oh
        r = r // oh
        return r // f, y, x, r % f
    ch = i % f
    r = i // f
    x = r % ow
    r = r // ow
    return r // oh, r % oh, x, ch
