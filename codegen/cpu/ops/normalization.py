"""CPU: batch normalization, rescaling and Keras's Normalization as a scale
and shift per channel (or per value), computed at lowering, with the
activation after it; layer, RMS, unit and group normalization as moments of
groups: opcodes, kernels and steps (the lowerings are shared:
codegen/lowering.py). fold-batchnorm folds most batch normalizations into
the Dense or convolution before them; these are the rest."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from layerc.codegen.codes import ACT
from layerc.codegen.cpu import team
from layerc.codegen.cpu.kernels import FAST_JIT, JIT, activate
from layerc.codegen.cpu.opcodes import arena, need, opcode, runs, touches, weights

SCALE_SHIFT = opcode("scale_shift", "x y outer c inner row scale shift act")
_S = SCALE_SHIFT.cols


@touches(SCALE_SHIFT)
def _scale_shift_touches(r):
    size = r.outer * r.c * r.inner
    need(r.row >= 1 and size % r.row == 0, f"{size} values in rows of {r.row}")
    return (arena(r, "x", size) + arena(r, "y", size) + weights(r, "scale", r.c)
            + weights(r, "shift", r.c))
# Below this many values a pass runs in the calling thread.
SERIAL_VALUES = 1 << 16


# ----- kernels -----
@njit(**FAST_JIT)
def scale_shift(x, y, lo, hi, c, inner, w, s0, t0):
    """y = x * w[s0 + ch] + w[t0 + ch] for the (outer, c, inner) blocks
    lo..hi of flat arrays; channels last (inner 1) runs along the channels,
    which vectorizes."""
    s, t = w[s0: s0 + c], w[t0: t0 + c]
    for o in range(lo, hi):  # rows as slices (see normalize_rows)
        base = o * c * inner
        if inner == 1:
            src, dst = x[base: base + c], y[base: base + c]
            for ch in range(c):
                dst[ch] = src[ch] * s[ch] + t[ch]
        else:
            for ch in range(c):
                at = base + ch * inner
                src, dst = x[at: at + inner], y[at: at + inner]
                scale, shift = s[ch], t[ch]
                for i in range(inner):
                    dst[i] = src[i] * scale + shift


@njit(**FAST_JIT)
def _split(x, y, outer, c, inner, w, s0, t0, chunks):
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        scale_shift(x, y, ci * outer // chunks, (ci + 1) * outer // chunks, c, inner, w, s0, t0)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


# ----- the step -----
@runs(SCALE_SHIFT)
@njit(**JIT)
def run_scale_shift(r, weights, arena, state, batch):
    outer, c, inner, row = r[_S.outer] * batch, r[_S.c], r[_S.inner], r[_S.row]
    size = outer * c * inner
    x = arena[r[_S.x] * batch: r[_S.x] * batch + size]
    y = arena[r[_S.y] * batch: r[_S.y] * batch + size]
    chunks = min(outer, 4 * team.size())
    if chunks > 1 and size >= SERIAL_VALUES:
        _split(x, y, outer, c, inner, weights, r[_S.scale], r[_S.shift], chunks)
    elif team.lead():
        scale_shift(x, y, 0, outer, c, inner, weights, r[_S.scale], r[_S.shift])
    if r[_S.act] != ACT.linear and team.lead():
        out = y.reshape((size // row, row))
        activate(out, out, r[_S.act])


# ----- layer, RMS, unit and group normalization: moments of groups -----
MOMENTS = opcode("moments", "x y a r1 k r2 gamma beta gs1 gsk gs2 gdiv eps mode")
_M = MOMENTS.cols


@touches(MOMENTS)
def _moments_touches(r):
    size = r.a * r.r1 * r.k * r.r2
    need(r.gdiv >= 1, f"gdiv {r.gdiv}")
    reach = 1 + (r.r1 - 1) * r.gs1 + (r.k - 1) * r.gsk + ((r.r2 - 1) // r.gdiv) * r.gs2
    return (arena(r, "x", size) + arena(r, "y", size) + weights(r, "gamma", reach)
            + weights(r, "beta", reach) + weights(r, "eps", 1))


@njit(**FAST_JIT)
def normalize_groups(x, y, lo, hi, r1, k, r2, w, gamma, beta, gs1, gsk, gs2, gdiv, eps, mode):
    """Groups lo..hi of the (a, r1, k, r2) blocks of x (group g = a * k + kk)
    normalized by their moments over r1 x r2, in float64: mode 0 (x - mean)
    / sqrt(var + eps), 1 x / sqrt(var + eps), 2 x * min(1 / sqrt(sum x^2),
    1 / eps), 3 x / sqrt(mean x^2 + eps); then gamma and beta where given
    (offsets >= 0)."""
    if k == 1 and r2 == 1 and gs1 == 1:  # rows of r1 values (LayerNormalization's last axis)
        normalize_rows(x, y, lo, hi, r1, w, gamma, beta, eps, mode)
        return
    count = r1 * r2
    for g in range(lo, hi):
        ai, kk = g // k, g % k
        base = ai * r1 * k * r2 + kk * r2
        total = 0.0
        for i1 in range(r1):
            row = base + i1 * k * r2
            for i2 in range(r2):
                total += x[row + i2]
        mean = total / count
        spread = 0.0
        for i1 in range(r1):
            row = base + i1 * k * r2
            for i2 in range(r2):
                d = x[row + i2] - mean
                spread += d * d
        if mode == 2:
            shift = 0.0
            squares = spread + count * mean * mean
            inv = min(1.0 / math.sqrt(squares), 1.0 / eps)
        elif mode == 3:
            shift = 0.0
            inv = 1.0 / math.sqrt(spread / count + mean * mean + eps)
        else:
            shift = mean if mode == 0 else 0.0
            inv = 1.0 / math.sqrt(spread / count + eps)
        for i1 in range(r1):
            row = base + i1 * k * r2
            for i2 in range(r2):
                v = (x[row + i2] - shift) * inv
                at = i1 * gs1 + kk * gsk + (i2 // gdiv) * gs2
                if gamma >= 0:
                    v *= w[gamma + at]
                if beta >= 0:
                    v += w[beta + at]
                y[row + i2] = v


@njit(**FAST_JIT)
def normalize_rows(x, y, lo, hi, n, w, gamma, beta, eps, mode):
    """normalize_groups for groups of n contiguous values with per-value
    gamma and beta (LayerNormalization over the last axis). Each row is a
    slice indexed by its loop counter, which Numba knows is not negative:
    indexed as x[base + i], every access checked for a negative index and
    no loop vectorized (the transformer benchmark's LayerNormalization over
    (64 x 64, 64) at batch 64, one thread: 0.69-1.1 ms -> 0.26-0.31 ms,
    the same numbers)."""
    both = gamma >= 0 and beta >= 0
    scale, offset = w[max(gamma, 0): max(gamma, 0) + n], w[max(beta, 0): max(beta, 0) + n]
    for g in range(lo, hi):
        row, out = x[g * n: (g + 1) * n], y[g * n: (g + 1) * n]
        total = 0.0
        for i in range(n):
            total += np.float64(row[i])
        mean = total / n
        spread = 0.0
        for i in range(n):
            d = np.float64(row[i]) - mean
            spread += d * d
        if mode == 2:
            shift = 0.0
            inv = min(1.0 / math.sqrt(spread + n * mean * mean), 1.0 / eps)
        elif mode == 3:
            shift = 0.0
            inv = 1.0 / math.sqrt(spread / n + mean * mean + eps)
        else:
            shift = mean if mode == 0 else 0.0
            inv = 1.0 / math.sqrt(spread / n + eps)
        if both:
            for i in range(n):
                out[i] = (row[i] - shift) * inv * scale[i] + offset[i]
        else:
            for i in range(n):
                v = (row[i] - shift) * inv
                if gamma >= 0:
                    v *= scale[i]
                if beta >= 0:
                    v += offset[i]
                out[i] = v


@njit(**FAST_JIT)
def _normalize_split(x, y, groups, r1, k, r2, w, gamma, beta, gs1, gsk, gs2, gdiv, eps, mode,
                     chunks):
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        normalize_groups(x, y, ci * groups // chunks, (ci + 1) * groups // chunks, r1, k, r2, w,
                         gamma, beta, gs1, gsk, gs2, gdiv, eps, mode)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@runs(MOMENTS)
@njit(**JIT)
def run_moments(r, weights, arena, state, batch):
    a, r1, k, r2 = r[_M.a] * batch, r[_M.r1], r[_M.k], r[_M.r2]
    size = a * r1 * k * r2
    x = arena[r[_M.x] * batch: r[_M.x] * batch + size]
    y = arena[r[_M.y] * batch: r[_M.y] * batch + size]
    eps = np.float64(weights[r[_M.eps]])
    chunks = min(a * k, 4 * team.size())
    if chunks > 1 and size >= SERIAL_VALUES:
        _normalize_split(x, y, a * k, r1, k, r2, weights, r[_M.gamma], r[_M.beta], r[_M.gs1],
                         r[_M.gsk], r[_M.gs2], r[_M.gdiv], eps, r[_M.mode], chunks)
    elif team.lead():
        normalize_groups(x, y, 0, a * k, r1, k, r2, weights, r[_M.gamma], r[_M.beta], r[_M.gs1],
                         r[_M.gsk], r[_M.gs2], r[_M.gdiv], eps, r[_M.mode])
