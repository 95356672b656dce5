"""CPU: the reshaping ops that move values (RepeatVector's repeat): opcode,
kernel and step; the lowering is shared (codegen/lowering.py)."""

from __future__ import annotations

from numba import njit

from layerc.codegen.cpu.kernels import JIT
from layerc.codegen.cpu.opcodes import opcode, runs

REPEAT = opcode("repeat", "x y n size")
_R = REPEAT.cols


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
