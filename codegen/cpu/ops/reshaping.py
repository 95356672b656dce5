"""CPU: the reshaping ops that move values (RepeatVector's repeat, the
strided copy behind transposes, padding, cropping, nearest upsampling and
broadcasts) and the bilinear resize: opcodes, kernels and steps; the
lowerings are shared (codegen/moves.py)."""

from __future__ import annotations

from numba import njit

from layerc.codegen.cpu.kernels import JIT
from layerc.codegen.cpu.opcodes import arena, need, opcode, runs, touches

REPEAT = opcode("repeat", "x y n size")
_R = REPEAT.cols


@touches(REPEAT)
def _repeat_touches(r):
    return arena(r, "x", r.size) + arena(r, "y", r.n * r.size)


@runs(REPEAT)
@njit(**JIT)
def run_repeat(r, weights, arena, state, batch):
    n, size = r[_R.n], r[_R.size]
    x, y = r[_R.x] * batch, r[_R.y] * batch
    for b in range(batch):
        src = arena[x + b * size: x + (b + 1) * size]
        for k in range(n):
            at = y + (b * n + k) * size
            arena[at: at + size] = src


# ----- the strided copy (transposes, padding, cropping, nearest upsampling,
# broadcasts; the geometry comes from codegen/moves.py) -----
STRIDED = opcode("strided", "x y xsize ysize zero xo yo d0 d1 d2 d3 d4 d5 "
                 "xs0 xs1 xs2 xs3 xs4 xs5 ys0 ys1 ys2 ys3 ys4 ys5")
_S = STRIDED.cols


@touches(STRIDED)
def _strided_touches(r):
    """Each sample's walk of d0..d5 steps at strides xs0..xs5 from xo (and
    ys.. from yo) stays in its own xsize (ysize) floats."""
    dims = [r.d0, r.d1, r.d2, r.d3, r.d4, r.d5]
    if min(dims) > 0:
        for side, at, size in (("xs", r.xo, r.xsize), ("ys", r.yo, r.ysize)):
            reach = [(d - 1) * getattr(r, f"{side}{i}") for i, d in enumerate(dims)]
            low, high = at + sum(min(0, s) for s in reach), at + sum(max(0, s) for s in reach)
            need(0 <= low and high < size, f"a walk over {low}..{high} of a sample's {size} "
                                          f"floats")
    return arena(r, "x", r.xsize) + arena(r, "y", r.ysize)


@runs(STRIDED)
@njit(**JIT)
def run_strided(r, weights, arena, state, batch):
    xsize, ysize = r[_S.xsize], r[_S.ysize]
    x, y = r[_S.x] * batch + r[_S.xo], r[_S.y] * batch + r[_S.yo]
    if r[_S.zero]:
        arena[r[_S.y] * batch: r[_S.y] * batch + ysize * batch] = 0.0
    d0, d1, d2, d3, d4, d5 = r[_S.d0], r[_S.d1], r[_S.d2], r[_S.d3], r[_S.d4], r[_S.d5]
    a0, a1, a2, a3, a4, a5 = r[_S.xs0], r[_S.xs1], r[_S.xs2], r[_S.xs3], r[_S.xs4], r[_S.xs5]
    b0, b1, b2, b3, b4, b5 = r[_S.ys0], r[_S.ys1], r[_S.ys2], r[_S.ys3], r[_S.ys4], r[_S.ys5]
    run = a5 == 1 and b5 == 1  # the innermost axis contiguous on both sides: slices
    for n in range(batch):
        for i0 in range(d0):
            for i1 in range(d1):
                for i2 in range(d2):
                    for i3 in range(d3):
                        for i4 in range(d4):
                            xi = x + n * xsize + i0 * a0 + i1 * a1 + i2 * a2 + i3 * a3 + i4 * a4
                            yi = y + n * ysize + i0 * b0 + i1 * b1 + i2 * b2 + i3 * b3 + i4 * b4
                            if run:
                                arena[yi: yi + d5] = arena[xi: xi + d5]
                            else:
                                for i5 in range(d5):
                                    arena[yi + i5 * b5] = arena[xi + i5 * a5]

