"""What the CPU kernels of every op family share: the Numba options and the
activation functions (a fused epilogue of Dense, Conv, LocallyConnected and
the recurrent gates, and the Activation op itself).

Every kernel is a numba.njit function generic over shapes, compiled once per
machine and cached on disk (`cache=True`, see cache.py). Shapes arrive as
ints; weights and activations as views of flat arenas. `error_model='numpy'`
keeps float division free of Python's zero checks. Activations arrive as
their codes (`codes.ACT`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from layerc.codegen.codes import ACT
from layerc.codegen.cpu import threads  # noqa: F401  (first: the cache locator, the pool)
from layerc.ir.activations import (INV_SQRT2, LEAKY_SLOPE, SELU_ALPHA, SELU_SCALE, SHRINK,
                                   SQUAREPLUS_B)

JIT: dict[str, Any] = dict(cache=True, nogil=True, error_model="numpy")
# Reassociation lets LLVM vectorize reductions (NUMBA_NOTES: 12x); no nnan/ninf,
# so NaN still propagates.
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
FAST_JIT: dict[str, Any] = dict(JIT, fastmath=FAST)


def plain(dispatcher: Any) -> Any:
    """`dispatcher`, compiled once per set of argument *types*. Numba types a
    constant argument at a call site in jitted code as its literal value
    (Literal[int](0)) and compiles a copy of the callee for each set of
    constants: the library's build compiled the GEMM's edge tile five times
    and its tile loop five times (81 s of 354). For kernels whose speed does
    not hang on their arguments' values (the branches they prune run once a
    tile or a row block, not once a float)."""
    typed = dispatcher.get_call_template

    def get_call_template(args: tuple, kws: dict) -> Any:
        return typed(tuple(types.unliteral(a) for a in args),
                     {k: types.unliteral(v) for k, v in kws.items()})

    dispatcher.get_call_template = get_call_template
    return dispatcher


def native(codegen_of: Any) -> Any:
    """numba's @intrinsic, typed Any for mypy: an intrinsic's Python
    signature starts with the typing context, which calls in njit code
    leave out."""
    return intrinsic(codegen_of)


@native
def move(typingctx: Any, dst: Any, at: Any, src: Any, src_at: Any, n: Any) -> Any:
    """dst[at:at + n] = src[src_at:src_at + n] for 1-D float32 arrays, by
    libc's memmove (no bounds check; the ranges may overlap). Numba's slice
    assignment copies 200 KB (an MLP's batch-64 input) in 17.5 us, its plain
    loop in 34, memmove in 6."""
    def vector(a: Any) -> bool:
        return (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
                and a.dtype == types.float32)
    if not (vector(dst) and vector(src)) or not dst.mutable:
        return None  # contiguous float32 vectors only: a typing error names the call

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        def pointer(aty: Any, arr: Any, index: Any) -> Any:
            return builder.gep(context.make_array(aty)(context, builder, arr).data, [index])
        cgutils.raw_memmove(builder, pointer(sig.args[0], args[0], args[1]),
                            pointer(sig.args[2], args[2], args[3]), args[4], 4)
        return context.get_dummy_value()
    return types.none(dst, at, src, src_at, n), codegen


@njit(**JIT)
def _softplus(v: float) -> float:
    return math.log1p(math.exp(-abs(v))) + max(v, 0.0)


@njit(**JIT)
def scalar(v: float, act: int) -> float:
    """One element of an element-wise activation, in float64. Comparisons are
    written so that NaN flows through as NaN."""
    if act == ACT.relu:
        return 0.0 if v < 0.0 else v
    if act == ACT.relu6:
        return 0.0 if v < 0.0 else (6.0 if v > 6.0 else v)
    if act == ACT.leaky_relu:
        return LEAKY_SLOPE * v if v < 0.0 else v
    if act == ACT.elu:
        return math.expm1(v) if v < 0.0 else v
    if act == ACT.selu:
        return SELU_SCALE * (SELU_ALPHA * math.expm1(v) if v < 0.0 else v)
    if act == ACT.gelu:
        return 0.5 * v * (1.0 + math.erf(v * INV_SQRT2))
    if act == ACT.sigmoid:
        return 0.5 * (1.0 + math.tanh(0.5 * v))
    if act == ACT.hard_sigmoid:
        h = v / 6.0 + 0.5
        return 0.0 if h < 0.0 else (1.0 if h > 1.0 else h)
    if act == ACT.tanh:
        return math.tanh(v)
    if act == ACT.softplus:
        return _softplus(v)
    if act == ACT.softsign:
        return v / (abs(v) + 1.0)
    if act == ACT.silu:
        return v * 0.5 * (1.0 + math.tanh(0.5 * v))
    if act == ACT.hard_silu:
        h = v / 6.0 + 0.5
        return v * (0.0 if h < 0.0 else (1.0 if h > 1.0 else h))
    if act == ACT.exponential:
        return math.exp(v)
    if act == ACT.mish:
        return v * math.tanh(_softplus(v))
    if act == ACT.celu:
        return math.expm1(v) if v < 0.0 else v
    if act == ACT.hard_tanh:
        return -1.0 if v < -1.0 else (1.0 if v > 1.0 else v)
    if act == ACT.hard_shrink:
        return v if abs(v) > SHRINK else (v if math.isnan(v) else 0.0)
    if act == ACT.soft_shrink:
        if v > SHRINK:
            return v - SHRINK
        return v + SHRINK if v < -SHRINK else (v if math.isnan(v) else 0.0)
    if act == ACT.tanh_shrink:
        return v - math.tanh(v)
    if act == ACT.log_sigmoid:
        return -_softplus(-v)
    if act == ACT.sparse_plus:
        if v <= -1.0:
            return 0.0
        return 0.25 * (v + 1.0) * (v + 1.0) if v < 1.0 else v
    if act == ACT.sparse_sigmoid:
        h = 0.5 * (v + 1.0)
        return 0.0 if h < 0.0 else (1.0 if h > 1.0 else h)
    if act == ACT.squareplus:
        return 0.5 * (v + math.sqrt(v * v + SQUAREPLUS_B))
    return v


@njit(**JIT)
def sparsemax_row(x: np.ndarray, y: np.ndarray) -> None:
    """Keras 3.15's sparsemax of one row (ir/activations.py)."""
    z = np.sort(x.astype(np.float64))[::-1]
    running, support_sum, size = 0.0, 0.0, 0
    for k in range(z.size):
        running += z[k]
        if 1.0 + (k + 1) * z[k] > running:
            support_sum += running
            size += 1
    tau = (support_sum - 1.0) / max(size, 1)
    for j in range(x.shape[0]):
        v = np.float64(x[j]) - tau
        y[j] = v if v > 0.0 or math.isnan(v) else 0.0


@njit(**JIT)
def row_activation(x: np.ndarray, y: np.ndarray, act: int) -> None:
    """A row-wise activation (softmax, log_softmax, sparsemax) of one row."""
    if act == ACT.sparsemax:
        sparsemax_row(x, y)
    else:
        softmax_row(x, y, act == ACT.log_softmax)


# exp in float32 as loops LLVM vectorizes (a scalar math.exp costs about 7
# ns here): Cephes's expf, x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in
# two for exactness), a degree-6 polynomial for exp(r) (max relative error
# about 2e-7), and 2^n built in the exponent bits of an int32 scratch.
_LOG2E, _LN2_HI, _LN2_LO = np.float32(1.44269504088896341), np.float32(0.693359375), \
    np.float32(-2.12194440e-4)
_EXP_P = tuple(np.float32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                       4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
_EXP_LOW = np.float32(-87.33654)  # below: 0 (the smallest normal float32's log)
_HALF, _ONE32, _ZERO32 = np.float32(0.5), np.float32(1.0), np.float32(0.0)


@njit(**FAST_JIT)
def _exp_parts(x: Any) -> Any:
    """exp(x) = y * 2^k for x in [_EXP_LOW, 88]: y, and 2^k as the bits of a
    float32 (the callers view their int32 scratch as float32: no NaN may be
    given, its int32 conversion is undefined)."""
    p0, p1, p2, p3, p4, p5 = _EXP_P
    k = np.floor(x * _LOG2E + _HALF)
    r = x - k * _LN2_HI - k * _LN2_LO
    y = (((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5) * (r * r) + r + _ONE32
    return y, (np.int32(k) + 127) << 23


@njit(**FAST_JIT)
def exp_shifted(row: np.ndarray, top: Any, bits: np.ndarray) -> Any:
    """row[j] = exp(row[j] - top), in float32 (-inf and values below the
    smallest normal give 0; no NaN may be given), and their sum. bits:
    int32 scratch of at least row's size. The caller passes the row as a
    slice: indexed by the loop counter alone the loops vectorize, as
    s[at + j] (an index Numba must check for being negative) they did not
    (8192 rows of 64: 1.85 -> 0.62 ms)."""
    n = row.shape[0]
    for j in range(n):
        x = row[j] - top
        low = x < _EXP_LOW
        y, bits[j] = _exp_parts(_EXP_LOW if low else x)
        row[j] = _ZERO32 if low else y
    scale = bits[:n].view(np.float32)
    total = _ZERO32
    for j in range(n):
        v = row[j] * scale[j]
        row[j] = v
        total += v
    return total


_EXP_HIGH = np.float32(88.0)  # exp's largest argument here: 2^127 still a finite float32


@njit(**FAST_JIT)
def logistic_row(x: np.ndarray, y: np.ndarray, silu: bool, work: np.ndarray,
                 bits: np.ndarray) -> None:
    """y = sigmoid(x) = 1 / (1 + exp(-x)), or x * sigmoid(x) with `silu`, in
    float32 by exp_shifted's polynomial (relative error about 2e-7, tiny
    values included: 0.5 + 0.5 tanh(x / 2) would lose them); NaN stays NaN.
    x and y: slices of one size, possibly the same; work (float32) and bits
    (int32): scratch of at least that size. As loops over the slices LLVM
    vectorizes them; math.tanh in float64 per value took about 34 ns."""
    n = x.shape[0]
    for j in range(n):
        t = -x[j]
        nan, far = t != t, t > _EXP_HIGH
        t = _EXP_LOW if t < _EXP_LOW else (_EXP_HIGH if t > _EXP_HIGH else t)
        e, bits[j] = _exp_parts(_ZERO32 if nan else t)
        # past the clamp exp(-x) is beyond float32: sigmoid 0, silu -0 (NaN at -inf)
        work[j] = np.float32(np.nan) if nan else (np.float32(np.inf) if far else e)
    scale = bits[:n].view(np.float32)
    if silu:
        for j in range(n):
            y[j] = x[j] / (_ONE32 + work[j] * scale[j])
    else:
        for j in range(n):
            y[j] = _ONE32 / (_ONE32 + work[j] * scale[j])


# Eigen's rational tanh for float32 (max error about 2.5e-7), clamped where it
# saturates; it vectorizes where math.tanh is a scalar libm call per element.
_CLAMP = 7.90531110763549805
_A1, _A3, _A5 = 4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05
_A7, _A9 = 5.12229709037114e-08, -8.60467152213735e-11
_A11, _A13 = 2.00018790482477e-13, -2.76076847742355e-16
_B0, _B2 = 4.89352518554385e-03, 2.26843463243900e-03
_B4, _B6 = 1.18534705686654e-04, 1.19825839466702e-06


@njit(**FAST_JIT)
def tanh32(v: Any) -> Any:
    """tanh(v), within about 2.5e-7; exactly +-1 from |v| = 9, where float32
    rounds tanh to 1 (the rational function levels off at 0.99999976)."""
    x = -_CLAMP if v < -_CLAMP else (_CLAMP if v > _CLAMP else v)  # NaN stays NaN
    x2 = x * x
    p = x2 * _A13 + _A11
    p = x2 * p + _A9
    p = x2 * p + _A7
    p = x2 * p + _A5
    p = x2 * p + _A3
    p = x2 * p + _A1
    q = x2 * _B6 + _B4
    q = x2 * q + _B2
    q = x2 * q + _B0
    return 1.0 if v >= 9.0 else (-1.0 if v <= -9.0 else x * p / q)


# Eigen's (and XLA's) rational erf for float32 (max error about 7e-8),
# clamped to [-4, 4], past which erf rounds to +-1.
_ERF_A = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
          -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
          -1.60960333262415e-02)
_ERF_B = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
          -7.37332916720468e-03, -1.42647390514189e-02)


@njit(**FAST_JIT)
def gelu32(v: Any) -> Any:
    """Keras's exact gelu, 0.5 v (1 + erf(v / sqrt 2)), with the rational erf
    (absolute error about 1e-7 times |v|; math.erf per value took about 19
    ns, this vectorizes). NaN stays NaN."""
    a0, a1, a2, a3, a4, a5, a6 = _ERF_A
    b0, b1, b2, b3, b4 = _ERF_B
    u = v * INV_SQRT2
    x = -4.0 if u < -4.0 else (4.0 if u > 4.0 else u)
    x2 = x * x
    p = (((((a0 * x2 + a1) * x2 + a2) * x2 + a3) * x2 + a4) * x2 + a5) * x2 + a6
    q = (((b0 * x2 + b1) * x2 + b2) * x2 + b3) * x2 + b4
    erf = 1.0 if u > 4.0 else (-1.0 if u < -4.0 else x * p / q)
    return 0.5 * v * (1.0 + erf)


@njit(**JIT)
def softmax_row(x: np.ndarray, y: np.ndarray, log: bool) -> None:
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


@njit(**FAST_JIT)
def softmax_rows(x: np.ndarray, y: np.ndarray) -> None:
    """softmax_row of each row of a 2-D array, in float32 by exp_shifted
    where a row's largest value is finite (else softmax_row: NaN, or every
    value -inf, or +inf among them). An MLP's batch-64 Dense(10, softmax)
    epilogue: 9.0 -> 4.4 us (two math.exp in float64 per value before)."""
    rows, n = x.shape
    bits = np.empty(n, np.int32)
    for r in range(rows):
        xr, yr = x[r], y[r]
        top = np.float32(-np.inf)
        for j in range(n):
            if xr[j] > top or math.isnan(xr[j]):
                top = xr[j]
        if not math.isfinite(top):
            softmax_row(xr, yr, False)
            continue
        for j in range(n):
            yr[j] = xr[j]
        inv = np.float32(1.0) / exp_shifted(yr, top, bits)
        for j in range(n):
            yr[j] *= inv


@njit(**JIT)
def activate(x: np.ndarray, y: np.ndarray, act: int) -> None:
    """y = act(x) over rows of a 2-D array (softmax and log_softmax by row).
    x and y may be the same array."""
    rows, cols = x.shape
    if act == ACT.linear:
        y[:, :] = x
        return
    if act == ACT.softmax:
        softmax_rows(x, y)
        return
    if act == ACT.log_softmax or act == ACT.sparsemax:
        for r in range(rows):
            row_activation(x[r], y[r], act)
        return
    if act == ACT.relu:  # the common case gets a loop LLVM can vectorize
        for r in range(rows):
            xr, yr = x[r], y[r]
            for j in range(cols):
                v = xr[j]
                yr[j] = 0.0 if v < 0.0 else v
        return
    if act == ACT.sigmoid or act == ACT.silu:  # float32 loops LLVM vectorizes
        work, bits = np.empty(cols, np.float32), np.empty(cols, np.int32)
        for r in range(rows):
            logistic_row(x[r], y[r], act == ACT.silu, work, bits)
        return
    if act == ACT.tanh:
        for r in range(rows):
            xr, yr = x[r], y[r]
            for j in range(cols):
                yr[j] = tanh32(xr[j])
        return
    if act == ACT.gelu:
        for r in range(rows):
            xr, yr = x[r], y[r]
            for j in range(cols):
                yr[j] = gelu32(xr[j])
        return
    for r in range(rows):
        xr, yr = x[r], y[r]
        for j in range(cols):
            yr[j] = scalar(np.float64(xr[j]), act)
