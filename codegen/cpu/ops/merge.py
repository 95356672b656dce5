"""CPU: the merge ops (element-wise merges as chains of binary steps, then a
scale for Average; concatenation as one copy per input; Dot's per-sample
matrix product): opcodes, kernels and steps (the lowerings are shared:
codegen/lowering.py)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from layerc.codegen.codes import BINOP
from layerc.codegen.cpu import team
from layerc.codegen.cpu.kernels import JIT
from layerc.codegen.cpu.opcodes import arena, need, opcode, runs, touches, weights

BINARY = opcode("binary", "a b y size binop")
SCALE = opcode("scale", "x y size factor")  # factor: the weight offset of the scale factor
CONCAT = opcode("concat", "x y outer inner stride start")
DOT = opcode("dot", "a b y rows k cols groups")  # per sample and group (rows, k) @ (k, cols)
# Keras's masked Maximum/Minimum/Multiply pair; ma, mb: mask offsets or -1;
# width: values per mask entry (the last axis).
MASKED = opcode("masked_binary", "a b y size binop ma mb width zero")
_B, _S, _C, _D, _M = BINARY.cols, SCALE.cols, CONCAT.cols, DOT.cols, MASKED.cols
# A binary step of at least this many values is split over the thread team
# (a transformer's residual Add, 64 x 64 x 64 at batch 64).
SERIAL_VALUES = 1 << 16


@touches(BINARY)
def _binary_touches(r):
    return arena(r, "a", r.size) + arena(r, "b", r.size) + arena(r, "y", r.size)


@touches(SCALE)
def _scale_touches(r):
    return arena(r, "x", r.size) + arena(r, "y", r.size) + weights(r, "factor", 1)


@touches(CONCAT)
def _concat_touches(r):
    need(0 <= r.start and r.start + r.inner <= r.stride,
         f"a part of {r.inner} at {r.start} in rows of {r.stride}")
    return arena(r, "x", r.outer * r.inner) + arena(r, "y", r.outer * r.stride)


@touches(DOT)
def _dot_touches(r):
    g = r.groups
    return (arena(r, "a", g * r.rows * r.k) + arena(r, "b", g * r.k * r.cols)
            + arena(r, "y", g * r.rows * r.cols))


@touches(MASKED)
def _masked_touches(r):
    need(r.width >= 1 and r.size % r.width == 0, f"{r.size} values in rows of {r.width}")
    rows = r.size // r.width
    return (arena(r, "a", r.size) + arena(r, "b", r.size) + arena(r, "y", r.size)
            + arena(r, "ma", rows) + arena(r, "mb", rows))


# ----- kernels -----
@njit(**JIT)
def binary(a: np.ndarray, b: np.ndarray, y: np.ndarray, op: int) -> None:
    n = y.shape[0]
    if op == BINOP.add:
        for i in range(n):
            y[i] = a[i] + b[i]
    elif op == BINOP.sub:
        for i in range(n):
            y[i] = a[i] - b[i]
    elif op == BINOP.mul:
        for i in range(n):
            y[i] = a[i] * b[i]
    elif op == BINOP.max:  # NaN in either input gives NaN, as numpy.maximum does
        for i in range(n):
            u, v = a[i], b[i]
            y[i] = u if (u > v or math.isnan(u)) else v
    elif op == BINOP.min:
        for i in range(n):
            u, v = a[i], b[i]
            y[i] = u if (u < v or math.isnan(u)) else v


@njit(**JIT)
def pick(u: float, v: float, op: int) -> float:
    """op(u, v) for the ops a masked merge takes (NaN propagates as in binary)."""
    if op == BINOP.mul:
        return u * v
    if op == BINOP.max:
        return u if (u > v or math.isnan(u)) else v
    return u if (u < v or math.isnan(u)) else v


@njit(**JIT)
def concat_part(x: np.ndarray, y: np.ndarray, outer: int, inner: int, stride: int,
                start: int) -> None:
    """Copies x viewed as (outer, inner) into columns [start, start+inner) of y
    viewed as (outer, stride)."""
    for o in range(outer):
        y[o * stride + start: o * stride + start + inner] = x[o * inner: (o + 1) * inner]


@njit(**JIT)
def _binary_split(a, b, y, op, chunks):
    """`binary` over `chunks` slices, a team region (team.py)."""
    n = y.shape[0]
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        lo, hi = ci * n // chunks, (ci + 1) * n // chunks
        binary(a[lo:hi], b[lo:hi], y[lo:hi], op)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


# ----- steps -----
@runs(BINARY)
@njit(**JIT)
def run_binary(r, weights, arena, state, batch):
    size = r[_B.size] * batch
    a = arena[r[_B.a] * batch: r[_B.a] * batch + size]
    b = arena[r[_B.b] * batch: r[_B.b] * batch + size]
    y = arena[r[_B.y] * batch: r[_B.y] * batch + size]
    if size >= SERIAL_VALUES and team.size() > 1:
        _binary_split(a, b, y, r[_B.binop], 4 * team.size())
    elif team.lead():
        binary(a, b, y, r[_B.binop])


@runs(MASKED)
@njit(**JIT)
def run_masked_binary(r, weights, arena, state, batch):
    size, width, op = r[_M.size] * batch, r[_M.width], r[_M.binop]
    a, b, y = r[_M.a] * batch, r[_M.b] * batch, r[_M.y] * batch
    ma, mb, zero = r[_M.ma] * batch, r[_M.mb] * batch, r[_M.zero]
    for row in range(size // width):
        keep_a = ma < 0 or arena[ma + row] != 0
        keep_b = mb < 0 or arena[mb + row] != 0
        for i in range(row * width, (row + 1) * width):
            u, v = arena[a + i], arena[b + i]
            if keep_b:
                arena[y + i] = pick(u, v, op) if keep_a else v
            else:
                arena[y + i] = u if keep_a or zero == 0 else 0.0


@runs(SCALE)
@njit(**JIT)
def run_scale(r, weights, arena, state, batch):
    size, factor = r[_S.size] * batch, weights[r[_S.factor]]
    x = arena[r[_S.x] * batch: r[_S.x] * batch + size]
    y = arena[r[_S.y] * batch: r[_S.y] * batch + size]
    for j in range(size):
        y[j] = x[j] * factor


@runs(CONCAT)
@njit(**JIT)
def run_concat(r, weights, arena, state, batch):
    outer, inner, stride = r[_C.outer] * batch, r[_C.inner], r[_C.stride]
    concat_part(arena[r[_C.x] * batch: r[_C.x] * batch + outer * inner],
                arena[r[_C.y] * batch: r[_C.y] * batch + outer * stride],
                outer, inner, stride, r[_C.start])


@runs(DOT)
@njit(**JIT)
def run_dot(r, weights, arena, state, batch):
    """y[n] = a[n] (rows, k) @ b[n] (k, cols) per sample and group n, summed in
    float64."""
    rows, k, cols = r[_D.rows], r[_D.k], r[_D.cols]
    a, b, y = r[_D.a] * batch, r[_D.b] * batch, r[_D.y] * batch
    for n in range(batch * r[_D.groups]):
        an, bn, yn = a + n * rows * k, b + n * k * cols, y + n * rows * cols
        for i in range(rows):
            for j in range(cols):
                total = 0.0
                for q in range(k):
                    total += np.float64(arena[an + i * k + q]) * arena[bn + q * cols + j]
                arena[yn + i * cols + j] = total
