"""CPU: fused attention (ir/ops/attention.py), one step, never more than a
block of scores in memory.

A work item is one sample's one head's block of up to QB queries; items are
split over layerc's threads. For an item, the key (transposed) and the value
of its head are packed into GEMM panels (gemm.py's layout; repacked only
when the sample or head changes), and then for each tile of MR queries:
the scores, a tile of MR x Tk, come from gemm.py's register-blocked
micro-kernel (q rows read in place from the arena; "tanh" scores from a
plain loop instead), each row is scaled, masked and softmaxed in place, and
the micro-kernel multiplies it into the values, writing the output rows
straight into the (batch, Tq, heads, dv) output. The probabilities are
copied out when the op returns them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from layerc.codegen.cpu.gemm import MR, NR, SERIAL_FLOPS, npanels, tile, whole
from layerc.codegen.cpu import team
from layerc.codegen.cpu.kernels import FAST_JIT, JIT, exp_shifted, plain
from layerc.codegen.cpu.opcodes import arena, need, opcode, runs, touches, weights
from layerc.ir.ops.attention import LARGE

ATTENTION = opcode("attention", "q k v y p qm vm km am tq tk heads kv dk dv tanh par masking "
                                "qrows causal window")
_A = ATTENTION.cols


@touches(ATTENTION)
def _attention_touches(r):
    need(r.heads >= 1 and r.kv >= 1 and r.heads % r.kv == 0,
         f"{r.heads} query heads over {r.kv} key/value heads")
    return (arena(r, "q", r.tq * r.heads * r.dk) + arena(r, "k", r.tk * r.kv * r.dk)
            + arena(r, "v", r.tk * r.kv * r.dv) + arena(r, "y", r.tq * r.heads * r.dv)
            + arena(r, "p", r.heads * r.tq * r.tk) + arena(r, "qm", r.tq)
            + arena(r, "vm", r.tk) + arena(r, "km", r.tk) + arena(r, "am", r.tq * r.tk)
            + (weights(r, "par", 1) if not r.tanh else []))
QB = 8 * MR  # queries per work item
_LARGE = np.float32(LARGE)
_NEG_INF = np.float32(-np.inf)
MEAN, SUBTRACT = 1, 2  # the masking field: 0 zero, 1 mean, 2 subtract (AttentionAttrs)


@njit(**FAST_JIT)
def _may_attend(ok, arena, n, i, tq, tk, qm, vm, km, am, qrows, causal, window):
    """ok[j]: whether query i of sample n may attend key j (mask offsets are
    absolute, -1: none)."""
    row = not (qrows and qm >= 0 and arena[qm + n * tq + i] == 0)
    for j in range(tk):
        good = row
        if vm >= 0 and arena[vm + n * tk + j] == 0:
            good = False
        if km >= 0 and arena[km + n * tk + j] == 0:
            good = False
        if am >= 0 and arena[am + (n * tq + i) * tk + j] == 0:
            good = False
        if causal and j > i:
            good = False
        if window > 0 and abs(i - j) >= window:
            good = False
        ok[j] = good


@njit(**FAST_JIT)
def _softmax(row, ok, masked, factor, masking, bits):
    """A row of scores (a slice: see kernels.exp_shifted) times `factor`,
    masked (ok, when `masked`) and softmaxed in place: a masked score left
    out (a row with none left: zeros for masking 0, every key equally for
    1), or lowered by 1e9 in float32 (2). Unmasked rows run loops LLVM
    vectorizes."""
    tk = row.shape[0]
    if masked:
        for j in range(tk):
            v = row[j] * factor
            if not ok[j]:
                v = v - _LARGE if masking == SUBTRACT else _NEG_INF
            row[j] = v
    else:
        for j in range(tk):
            row[j] *= factor
    top = _NEG_INF
    nan = False
    for j in range(tk):
        v = row[j]
        top = max(top, v)
        nan |= v != v
    if top == _NEG_INF or nan:  # nothing to attend, or a NaN score
        empty = np.float32(1.0 / tk) if masking == MEAN else np.float32(0.0)
        for j in range(tk):
            row[j] = np.float32(np.nan) if nan else empty
        return
    inv = np.float32(1.0) / exp_shifted(row, top, bits)
    for j in range(tk):
        row[j] *= inv


@njit(**FAST_JIT)
def _tanh_scores(arena, weights, par, s, ldk, qb, qstride, kb, kstride, rows, tk, dk):
    """s[m * ldk + j] = sum_d w_d tanh(pre * (q_md + k_jd)) for rows m."""
    pre = weights[par]
    for m in range(rows):
        for j in range(tk):
            total = np.float32(0.0)
            for d in range(dk):
                total += weights[par + 1 + d] * np.float32(math.tanh(
                    pre * (arena[qb + m * qstride + d] + arena[kb + j * kstride + d])))
            s[m * ldk + j] = total


@njit(**FAST_JIT)
def _pack_keys(arena, kb, stride, tk, dk, kp):
    """The keys (key j: dk floats at arena[kb + j * stride]) transposed into
    gemm.py's panels: kp[(p * dk + d) * NR + c] = key p * NR + c's value d.
    Rows and panels are slices indexed by loop counters (see
    kernels.exp_shifted)."""
    for p in range(-(-tk // NR)):
        for c in range(min(NR, tk - p * NR)):
            at = kb + (p * NR + c) * stride
            key, panel = arena[at: at + dk], kp[p * dk * NR + c:]
            for d in range(dk):
                panel[d * NR] = key[d]


@njit(**FAST_JIT)
def _pack_values(arena, vb, stride, tk, dv, vp):
    """The values (value j: dv floats at arena[vb + j * stride]) into gemm.py's
    panels: vp[(p * tk + j) * NR + c] = value j's float p * NR + c, one
    contiguous run of a panel's width per value and panel."""
    for j in range(tk):
        value = arena[vb + j * stride: vb + j * stride + dv]
        for p in range(-(-dv // NR)):
            run = vp[(p * tk + j) * NR: (p * tk + j + 1) * NR]
            part = value[p * NR: min(dv, (p + 1) * NR)]
            for c in range(part.shape[0]):
                run[c] = part[c]


@plain
@njit(**FAST_JIT)
def _items(r, weights, arena, batch, lo, hi):
    """Work items lo..hi: item = (sample * heads + head) * blocks + block."""
    tq, tk, heads, kv, dk, dv = r[_A.tq], r[_A.tk], r[_A.heads], r[_A.kv], r[_A.dk], r[_A.dv]
    q0, k0, v0, y0 = r[_A.q] * batch, r[_A.k] * batch, r[_A.v] * batch, r[_A.y] * batch
    p0 = r[_A.p] * batch if r[_A.p] >= 0 else -1
    qm = r[_A.qm] * batch if r[_A.qm] >= 0 else -1
    vm = r[_A.vm] * batch if r[_A.vm] >= 0 else -1
    km = r[_A.km] * batch if r[_A.km] >= 0 else -1
    am = r[_A.am] * batch if r[_A.am] >= 0 else -1
    tanh, par, masking, qrows = r[_A.tanh], r[_A.par], r[_A.masking], r[_A.qrows]
    causal, window = r[_A.causal], r[_A.window]
    factor = np.float32(1.0) if tanh else weights[par]
    masked = qm >= 0 or vm >= 0 or km >= 0 or am >= 0 or causal != 0 or window != 0
    blocks = -(-tq // QB)
    kpanels, vpanels = npanels(tk), npanels(dv)
    ldk = kpanels * NR  # a score row's stride
    kp = np.zeros(kpanels * dk * NR, np.float32)
    vp = np.zeros(vpanels * tk * NR, np.float32)
    s = np.empty(MR * ldk, np.float32)
    ok = np.empty(tk, np.bool_)
    bits = np.empty(tk, np.int32)
    offs = np.empty(MR, np.int64)
    packed = -1
    for item in range(lo, hi):
        nh, block = item // blocks, item % blocks
        n, h = nh // heads, nh % heads
        g = h // (heads // kv)  # its key/value head
        qb = q0 + (n * tq * heads + h) * dk  # query i at qb + i * heads * dk
        kb = k0 + (n * tk * kv + g) * dk  # key j at kb + j * kv * dk
        vb = v0 + (n * tk * kv + g) * dv
        yb = y0 + (n * tq * heads + h) * dv
        if packed != nh:
            packed = nh
            if not tanh:
                _pack_keys(arena, kb, kv * dk, tk, dk, kp)
            _pack_values(arena, vb, kv * dv, tk, dv, vp)
        for i0 in range(block * QB, min(tq, (block + 1) * QB), MR):
            rows = min(MR, tq - i0)
            if tanh:
                _tanh_scores(arena, weights, par, s, ldk, qb + i0 * heads * dk, heads * dk, kb,
                             kv * dk, rows, tk, dk)
            else:
                for m in range(MR):
                    offs[m] = qb + (i0 + min(m, rows - 1)) * heads * dk
                for p in range(kpanels):
                    if rows == MR:
                        whole(arena, offs, 1, dk, kp, p * dk * NR, s, p * NR, ldk, weights, 0,
                              False, False)
                    else:
                        tile(arena, offs, 1, dk, kp, p * dk * NR, s, p * NR, ldk, rows, NR,
                             weights, 0, False, False)
            for m in range(rows):
                i = i0 + m
                if masked:
                    _may_attend(ok, arena, n, i, tq, tk, qm, vm, km, am, qrows, causal, window)
                _softmax(s[m * ldk: m * ldk + tk], ok, masked, factor, masking, bits)
                if p0 >= 0:
                    at = p0 + (nh * tq + i) * tk
                    arena[at: at + tk] = s[m * ldk: m * ldk + tk]
            for m in range(MR):
                offs[m] = min(m, rows - 1) * ldk
            for p in range(vpanels):
                at = yb + i0 * heads * dv + p * NR
                if rows == MR and (p + 1) * NR <= dv:  # the inlined kernel, as gemm.py's tiles
                    whole(s, offs, 1, tk, vp, p * tk * NR, arena, at, heads * dv, weights, 0,
                          False, False)
                else:
                    tile(s, offs, 1, tk, vp, p * tk * NR, arena, at, heads * dv, rows,
                         min(NR, dv - p * NR), weights, 0, False, False)
            if qm >= 0 and not qrows:  # Attention: a masked query's output is zero
                for m in range(rows):
                    if arena[qm + n * tq + i0 + m] == 0:
                        at = yb + (i0 + m) * heads * dv
                        arena[at: at + dv] = 0.0


@njit(**FAST_JIT)
def _split(r, weights, arena, batch, items, chunks):
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        _items(r, weights, arena, batch, ci * items // chunks, (ci + 1) * items // chunks)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@runs(ATTENTION)
@njit(**JIT)
def run_attention(r, weights, arena, state, batch):
    items = batch * r[_A.heads] * -(-r[_A.tq] // QB)
    flops = 2 * batch * r[_A.heads] * r[_A.tq] * r[_A.tk] * (r[_A.dk] + r[_A.dv])
    chunks = min(items, 4 * team.size())
    if chunks > 1 and flops >= SERIAL_FLOPS:
        _split(r, weights, arena, batch, items, chunks)
    elif team.lead():
        _items(r, weights, arena, batch, 0, items)
