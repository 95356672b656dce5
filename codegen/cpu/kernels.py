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
def exp_shifted(row: np.ndarray, top: Any, bits: np.ndarray) -> Any:
    """row[j] = exp(row[j] - top), in float32 (-inf and values below the
    smallest normal give 0; no NaN may be given), and their sum. bits:
    int32 scratch of at least row's size. The caller passes the row as a
    slice: indexed by the loop counter alone the loops vectorize, as
    s[at + j] (an index Numba must check for being negative) they did not
    (8192 rows of 64: 1.85 -> 0.62 ms)."""
    p0, p1, p2, p3, p4, p5 = _EXP_P
    n = row.shape[0]
    for j in range(n):
        x = row[j] - top
        low = x < _EXP_LOW
        x = _EXP_LOW if low else x
        k = np.floor(x * _LOG2E + _HALF)
        r = x - k * _LN2_HI - k * _LN2_LO
        y = (((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5) * (r * r) + r + _ONE32
        row[j] = _ZERO32 if low else y
        bits[j] = (np.int32(k) + 127) << 23
    scale = bits[:n].view(np.float32)
    total = _ZERO32
    for j in range(n):
        v = row[j] * scale[j]
        row[j] = v
        total += v
    return total


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
    for r in range(rows):
        xr, yr = x[r], y[r]
        for j in range(cols):
            yr[j] = scalar(np.float64(xr[j]), act)
