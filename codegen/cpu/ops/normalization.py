"""CPU: batch normalization and rescaling as a per-channel scale and shift
(computed at lowering; the lowering is shared: codegen/lowering.py), the
activation after it: the opcode, kernels and step.
fold-batchnorm folds most of them into the Dense or convolution before
them; these are the rest."""

from __future__ import annotations

from numba import njit, prange

from layerc.codegen.codes import ACT
from layerc.codegen.cpu.kernels import FAST_JIT, JIT, PARALLEL_JIT, activate
from layerc.codegen.cpu.opcodes import opcode, runs
from layerc.codegen.cpu.threads import pool_size

SCALE_SHIFT = opcode("scale_shift", "x y outer c inner row scale shift act")
_S = SCALE_SHIFT.cols
# Below this many values a pass runs in the calling thread.
SERIAL_VALUES = 1 << 16


# ----- kernels -----
@njit(**FAST_JIT)
def scale_shift(x, y, lo, hi, c, inner, w, s0, t0):
    """y = x * w[s0 + ch] + w[t0 + ch] for the (outer, c, inner) blocks
    lo..hi of flat arrays; channels last (inner 1) runs along the channels,
    which vectorizes."""
    s, t = w[s0: s0 + c], w[t0: t0 + c]
    for o in range(lo, hi):
        base = o * c * inner
        if inner == 1:
            for ch in range(c):
                y[base + ch] = x[base + ch] * s[ch] + t[ch]
        else:
            for ch in range(c):
                at = base + ch * inner
                for i in range(inner):
                    y[at + i] = x[at + i] * s[ch] + t[ch]


@njit(**PARALLEL_JIT)
def _split(x, y, outer, c, inner, w, s0, t0, chunks):
    for ci in prange(chunks):
        scale_shift(x, y, ci * outer // chunks, (ci + 1) * outer // chunks, c, inner, w, s0, t0)


# ----- the step -----
@runs(SCALE_SHIFT)
@njit(**JIT)
def run_scale_shift(r, weights, arena, state, batch):
    outer, c, inner, row = r[_S.outer] * batch, r[_S.c], r[_S.inner], r[_S.row]
    size = outer * c * inner
    x = arena[r[_S.x] * batch: r[_S.x] * batch + size]
    y = arena[r[_S.y] * batch: r[_S.y] * batch + size]
    chunks = min(outer, 4 * pool_size())
    if chunks > 1 and size >= SERIAL_VALUES:
        _split(x, y, outer, c, inner, weights, r[_S.scale], r[_S.shift], chunks)
    else:
        scale_shift(x, y, 0, outer, c, inner, weights, r[_S.scale], r[_S.shift])
    if r[_S.act] != ACT.linear:
        out = y.reshape((size // row, row))
        activate(out, out, r[_S.act])
