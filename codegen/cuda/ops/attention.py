"""CUDA: fused attention (ir/ops/attention.py), a thread per sample, head
and query: one pass over the keys with an online softmax (the running
maximum rescales the sum and the output, which accumulates in place), so
nothing of size Tk is stored; a second pass writes the probabilities when
the op returns them (the shared lowering: codegen/lowering.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import float32

from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.kernels import NEG_INF, ONE, ZERO, cuda
from layerc.codegen.cuda.launch import grid, launcher
from layerc.ir.ops.attention import LARGE

ATTENTION = kernel("attention", "q k v y p qm vm km am tq tk heads kv dk dv tanh par masking "
                                "qrows causal window")
_LARGE = np.float32(LARGE)
MEAN, SUBTRACT = 1, 2  # the masking field: 0 zero, 1 mean, 2 subtract (AttentionAttrs)


@cuda.jit(device=True)
def _may_attend(a, n, i, j, tq, tk, qm, vm, km, am, causal, window):
    """Whether query i of sample n may attend key j, the query mask aside."""
    if vm >= 0 and a[vm + n * tk + j] == 0:
        return False
    if km >= 0 and a[km + n * tk + j] == 0:
        return False
    if am >= 0 and a[am + (n * tq + i) * tk + j] == 0:
        return False
    if causal and j > i:
        return False
    return not (window > 0 and abs(i - j) >= window)


@cuda.jit(device=True)
def _score(a, w, qb, kb, dk, tanh, par):
    acc = ZERO
    if tanh:
        for d in range(dk):
            acc += w[par + 1 + d] * math.tanh(w[par] * (a[qb + d] + a[kb + d]))
    else:
        for d in range(dk):
            acc += a[qb + d] * a[kb + d]
        acc *= w[par]
    return acc


@cuda.jit
def attention(a, w, total, qo, ko, vo, yo, po, qm, vm, km, am, tq, tk, heads, kv, dk, dv, tanh,
              par, masking, qrows, causal, window):
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        i = t % tq
        h = (t // tq) % heads
        n = t // (tq * heads)
        g = h // (heads // kv)
        qb = qo + ((n * tq + i) * heads + h) * dk
        yb = yo + ((n * tq + i) * heads + h) * dv
        row = not (qrows and qm >= 0 and a[qm + n * tq + i] == 0)
        for d in range(dv):
            a[yb + d] = ZERO
        top = NEG_INF
        acc = ZERO
        for j in range(tk):
            ok = row and _may_attend(a, n, i, j, tq, tk, qm, vm, km, am, causal, window)
            if not ok and masking != SUBTRACT:
                continue
            s = _score(a, w, qb, ko + ((n * tk + j) * kv + g) * dk, dk, tanh, par)
            if not ok:
                s = s - _LARGE
            if s > top:
                c = math.exp(top - s)
                acc *= c
                for d in range(dv):
                    a[yb + d] *= c
                top = s
            e = math.exp(s - top)
            acc += e
            vb = vo + ((n * tk + j) * kv + g) * dv
            for d in range(dv):
                a[yb + d] += e * a[vb + d]
        inv = ONE / acc if acc > ZERO else ZERO
        empty = acc == ZERO and masking == MEAN  # nothing to attend: every key equally
        if empty:
            inv = ONE / float32(tk)
            for j in range(tk):
                vb = vo + ((n * tk + j) * kv + g) * dv
                for d in range(dv):
                    a[yb + d] += a[vb + d]
        zero_row = qm >= 0 and not qrows and a[qm + n * tq + i] == 0
        for d in range(dv):
            a[yb + d] = ZERO if zero_row else a[yb + d] * inv
        if po >= 0:
            for j in range(tk):
                ok = row and _may_attend(a, n, i, j, tq, tk, qm, vm, km, am, causal, window)
                prob = inv if empty else ZERO
                if ok or masking == SUBTRACT:
                    s = _score(a, w, qb, ko + ((n * tk + j) * kv + g) * dk, dk, tanh, par)
                    if not ok:
                        s = s - _LARGE
                    prob = math.exp(s - top) * inv
                a[po + ((n * heads + h) * tq + i) * tk + j] = prob


@launcher(ATTENTION)
def _attention(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = batch * o["heads"] * o["tq"]
    if not total:
        return

    def at(name: str) -> int:
        return o[name] * batch if o[name] >= 0 else -1

    attention[grid(total)](arena, weights, total, at("q"), at("k"), at("v"), at("y"), at("p"),
                           at("qm"), at("vm"), at("km"), at("am"), o["tq"], o["tk"], o["heads"],
                           o["kv"], o["dk"], o["dv"], o["tanh"], o["par"], o["masking"],
                           o["qrows"], o["causal"], o["window"])
