"""CPU: the core ops (dense, activation, copies, channel transposes, masking) as
opcodes, their kernels, the steps that run their plan rows, and the lowering
of Dense (which packs its kernel into the GEMM's panels; the others are
shared)."""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen import lowering
from layerc.codegen.codes import ACT
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu import team
from layerc.codegen.cpu.gemm import NR, gemm, pack, pack_bias
from layerc.codegen.cpu.kernels import JIT, activate, move
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import arena, need, opcode, runs, touches, weights
from layerc.ir import Node, OpKind

DENSE = opcode("dense", "x w b y rows k n act")  # b: -1 when there is no bias
ACTIVATE = opcode("act", "x y size row act")
COPY = opcode("copy", "x y size")
TRANSPOSE_CS = opcode("transpose_cs", "x y channels spatial")  # (C, S) -> (S, C) per sample
MASKING = opcode("masking", "x y m steps features value")


@touches(DENSE)
def _dense_touches(r):
    panels = -(-r.n // NR)
    return (arena(r, "x", r.rows * r.k) + arena(r, "y", r.rows * r.n)
            + weights(r, "w", r.k * panels * NR) + weights(r, "b", panels * NR))


@touches(ACTIVATE)
def _activate_touches(r):
    need(r.row >= 1 and r.size % r.row == 0, f"{r.size} values in rows of {r.row}")
    return arena(r, "x", r.size) + arena(r, "y", r.size)


@touches(COPY)
def _copy_touches(r):
    return arena(r, "x", r.size) + arena(r, "y", r.size)


@touches(TRANSPOSE_CS)
def _transpose_touches(r):
    return arena(r, "x", r.channels * r.spatial) + arena(r, "y", r.channels * r.spatial)


@touches(MASKING)
def _masking_touches(r):
    size = r.steps * r.features
    return (arena(r, "x", size) + arena(r, "y", size) + arena(r, "m", r.steps)
            + weights(r, "value", 1))
_D, _A, _C, _T, _M = DENSE.cols, ACTIVATE.cols, COPY.cols, TRANSPOSE_CS.cols, MASKING.cols


# ----- kernels -----
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
    """The register-blocked GEMM (gemm.py) as a 1x1 convolution over the rows,
    bias and ReLU in its epilogue; another activation in a pass after it (by
    the team's owner alone: team.py)."""
    rows, n, act = r[_D.rows] * batch, r[_D.n], r[_D.act]
    y = r[_D.y] * batch
    gemm(arena, r[_D.x] * batch, rows, 1, 1, r[_D.k], 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, weights,
         r[_D.w], r[_D.b], act == ACT.relu, arena, y, n)
    if act != ACT.linear and act != ACT.relu and team.lead():
        out = arena[y: y + rows * n].reshape((rows, n))
        activate(out, out, act)


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
    move(arena, r[_C.y] * batch, arena, r[_C.x] * batch, r[_C.size] * batch)


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
    kernel = e.weight(node.weights[0], pack=pack)
    e.instr(DENSE, node, w=kernel, **lowering.dense_operands(e, node, bias_pack=pack_bias))


@runs(MASKING)
@njit(**JIT)
def run_masking(r, weights, arena, state, batch):
    """A step is kept (mask 1, values copied) where any feature differs from
    the mask value, else zeroed (mask 0)."""
    rows, n = r[_M.steps] * batch, r[_M.features]
    x, y, m = r[_M.x] * batch, r[_M.y] * batch, r[_M.m] * batch
    value = weights[r[_M.value]]
    for row in range(rows):
        keep = False
        for j in range(n):
            if arena[x + row * n + j] != value:
                keep = True
                break
        arena[m + row] = 1.0 if keep else 0.0
        for j in range(n):
            arena[y + row * n + j] = arena[x + row * n + j] if keep else 0.0
