"""CPU: the activation layers with parameters (ReLU, LeakyReLU, ELU and
PReLU as one rectify step, Softmax over chosen axes) and glu: opcodes,
kernels and steps; the lowerings are shared (codegen/lowering.py)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from layerc.codegen.cpu.kernels import FAST_JIT, JIT, softmax_row
from layerc.codegen.cpu.opcodes import arena, need, opcode, runs, touches, weights

RECTIFY = opcode("rectify", "x y size alpha period params exp")
SOFTMAX_AXIS = opcode("softmax_axis", "x y outer n inner log")
GLU = opcode("glu", "x y rows half")
_R, _S, _G = RECTIFY.cols, SOFTMAX_AXIS.cols, GLU.cols


@touches(RECTIFY)
def _rectify_touches(r):
    need(r.period >= 1, f"alpha period {r.period}")
    return (arena(r, "x", r.size) + arena(r, "y", r.size) + weights(r, "alpha", r.period)
            + weights(r, "params", 2))


@touches(SOFTMAX_AXIS)
def _softmax_touches(r):
    return arena(r, "x", r.outer * r.n * r.inner) + arena(r, "y", r.outer * r.n * r.inner)


@touches(GLU)
def _glu_touches(r):
    return arena(r, "x", r.rows * 2 * r.half) + arena(r, "y", r.rows * r.half)


@njit(**FAST_JIT)
def rectify(x, y, w, alpha, period, threshold, top, exp):
    """x above the threshold clipped to [0, top]; alpha * f(x - threshold) at
    or below it, f the identity or expm1; alpha[i % period]. NaN stays NaN."""
    for i in range(x.size):
        v = x[i]
        if v > threshold:
            y[i] = min(max(v, 0.0), top)
        elif v <= threshold:
            d = np.float64(v) - threshold
            y[i] = w[alpha + i % period] * (math.expm1(d) if exp else d)
        else:
            y[i] = v


@runs(RECTIFY)
@njit(**JIT)
def run_rectify(r, weights, arena, state, batch):
    size = r[_R.size] * batch
    x, y = r[_R.x] * batch, r[_R.y] * batch
    p = r[_R.params]
    rectify(arena[x: x + size], arena[y: y + size], weights, r[_R.alpha], r[_R.period],
            np.float64(weights[p]), np.float64(weights[p + 1]), r[_R.exp] != 0)


@runs(SOFTMAX_AXIS)
@njit(**JIT)
def run_softmax_axis(r, weights, arena, state, batch):
    """softmax or log_softmax over n values at stride `inner`, for each of
    the (outer, inner) positions; a row at a time through a gather buffer."""
    outer, n, inner, log = r[_S.outer] * batch, r[_S.n], r[_S.inner], r[_S.log] != 0
    x, y = r[_S.x] * batch, r[_S.y] * batch
    src = np.empty(n, np.float32)
    dst = np.empty(n, np.float32)
    for o in range(outer):
        base = o * n * inner
        for i in range(inner):
            for j in range(n):
                src[j] = arena[x + base + j * inner + i]
            softmax_row(src, dst, log)
            for j in range(n):
                arena[y + base + j * inner + i] = dst[j]


@runs(GLU)
@njit(**JIT)
def run_glu(r, weights, arena, state, batch):
    rows, half = r[_G.rows] * batch, r[_G.half]
    x, y = r[_G.x] * batch, r[_G.y] * batch
    for row in range(rows):
        a, b = x + row * 2 * half, y + row * half
        for j in range(half):
            g = np.float64(arena[a + half + j])
            arena[b + j] = arena[a + j] * (0.5 * (1.0 + math.tanh(0.5 * g)))
