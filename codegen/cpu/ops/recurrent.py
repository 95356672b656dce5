"""CPU: the recurrent layers (SimpleRNN, GRU, LSTM): opcode, kernels, step
and lowering, and the runtime state slot a stateful layer declares.

The input projection of every step is one GEMM up front; each step then does
one small GEMM with the recurrent kernel and the gate math in a fused loop.
Masked steps keep the states and repeat the previous output, as Keras does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen import lowering
from layerc.codegen.codes import ACT, CELL, GATE_COUNT, INIT
from layerc.codegen.cpu import team
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.gemm import MR, NR, SERIAL_FLOPS, dense_rows, gemm, npanels, pack
from layerc.codegen.cpu.kernels import FAST_JIT, JIT, row_activation, scalar, tanh32
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import arena, opcode, runs, scratch, sequence, touches, weights
from layerc.ir import Node, OpKind

# init: zeros, the initial states at h0 (and c0) in the arena, or the stateful
# layer's slot `state` (-1: not stateful); ht, ct: the final states (return_state);
# seq: 0 the last output, 1 every step's (a masked step repeats the previous
# output), 2 every step's with masked steps' zeroed (zero_output_for_mask).
RECURRENT = opcode("recurrent", "x wk wr b y scratch mask init h0 c0 ret_state ht ct state "
                                "steps features units cell act rec_act reset_after seq "
                                "backwards")
_R = RECURRENT.cols


@touches(RECURRENT)
def _recurrent_touches(r):
    regions = sequence(r)
    g = GATE_COUNT[r.cell] * r.units
    panels = -(-g // NR)
    bias = 2 * g if r.cell == CELL.gru and r.reset_after == 1 else g
    split = r.cell == CELL.gru and r.reset_after != 1  # wr packed as [:, :2u] and [:, 2u:]
    rec_panels = -(-2 * r.units // NR) + -(-r.units // NR) if split else panels
    return (regions + arena(r, "x", r.steps * r.features) + scratch(r)
            + weights(r, "wk", r.features * panels * NR)
            + weights(r, "wr", r.units * rec_panels * NR) + weights(r, "b", bias))


# ----- kernels -----
@njit(**FAST_JIT)
def gate(v, act):
    """An activation over one gate block, in place; tanh and sigmoid (the
    defaults) vectorize, the others take the exact scalar path."""
    if act == ACT.tanh:
        for j in range(v.size):
            v[j] = tanh32(v[j])
    elif act == ACT.sigmoid:
        for j in range(v.size):
            v[j] = 0.5 + 0.5 * tanh32(0.5 * v[j])
    elif act == ACT.softmax or act == ACT.log_softmax or act == ACT.sparsemax:
        row_activation(v, v, act)  # across the block: one sample's units
    elif act != ACT.linear:
        for j in range(v.size):
            v[j] = scalar(np.float64(v[j]), act)


@njit(**FAST_JIT)
def recurrent(x, mask, has_mask, h, c, wk, wr, bias, has_bias, y, scratch, batch, steps,
              features, units, cell, act, rec_act, reset_after, return_sequences,
              go_backwards):
    """Runs the sequence x (batch, steps, features) from the states h and c
    (batch, units; updated in place to the final states) into y. Scratch:
    batch * (steps * G + G + 2 * units) floats. The recurrent kernel wr is
    (units, G) except for GRU without reset_after, where wr[:, :2u] and
    wr[:, 2u:] are packed one after the other.

    Both kernels are packed into the GEMM's panels (gemm.py). The input
    projection of all steps is one GEMM over the team; then its threads each
    run the whole sequence for a slice of the batch (its rows' states depend
    on nothing else), a GEMM per step on their slice; four slices a thread
    when the batch holds at least four row tiles a thread, one slice when the
    sequence is below SERIAL_FLOPS. Both are team
    regions (team.py); the bias between them is the owner's."""
    g = GATE_COUNT[cell] * units
    xw = scratch[: batch * steps * g].reshape((batch * steps, g))
    gemm(x, 0, batch * steps, 1, 1, features, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, wk, 0, -1,
         False, scratch, 0, g)
    if has_bias and team.lead():
        _add_bias(xw, bias[:g])
    # Slices of whole row tiles, four per thread when the batch has enough of
    # them: a thread whose core is busy elsewhere (it runs at about half speed
    # then) takes fewer slices, and the one it takes last holds the others up
    # for less (with two a thread, the stacked GRU at 64 slowed 1.66-1.71x
    # with a busy core, with four 1.44-1.47x, no slower when quiet); each
    # slice's per-step GEMM still fills the micro-kernel.
    # A sequence of fewer recurrent FLOPs than a GEMM that runs serially
    # (a streaming layer's one step for a few rows) runs in the calling thread.
    threads = team.size()
    blocks = -(-batch // MR)
    if 2 * batch * steps * units * g < SERIAL_FLOPS:
        chunks = 1
    else:
        chunks = 4 * threads if blocks >= 4 * threads else min(batch, threads)
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        lo, hi = _slice(ci, chunks, batch, blocks)
        _sequence(lo, hi, mask, has_mask, h, c, wr, bias, has_bias, y, scratch, batch, steps,
                  units, g, cell, act, rec_act, reset_after, return_sequences, go_backwards)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@njit(**FAST_JIT)
def _slice(ci, chunks, batch, blocks):
    """Rows of slice ci of `chunks`: whole MR-row blocks when there are more
    blocks than chunks, else an even split of the rows."""
    if blocks <= chunks:
        return ci * batch // chunks, (ci + 1) * batch // chunks
    lo = min(ci * blocks // chunks * MR, batch)
    return lo, min((ci + 1) * blocks // chunks * MR, batch)


@njit(**FAST_JIT)
def _add_bias(rows, bias):
    """The bias of every step's input projection, row by row."""
    for r in range(rows.shape[0]):
        row = rows[r]
        for j in range(bias.size):
            row[j] += bias[j]


@njit(**JIT)
def _sequence(lo, hi, mask, has_mask, h, c, wr, bias, has_bias, y, scratch, batch, steps,
              units, g, cell, act, rec_act, reset_after, return_sequences, go_backwards):
    """Every step for batch rows lo..hi (see recurrent)."""
    u = units
    xw = scratch[: batch * steps * g].reshape((batch * steps, g))
    hw = scratch[batch * steps * g: batch * (steps * g + g)].reshape((batch, g))[lo:hi]
    extra = scratch[batch * (steps * g + g): batch * (steps * g + g + 2 * u)]
    previous = extra[: batch * u].reshape((batch, u))
    work = extra[batch * u: 2 * batch * u].reshape((batch, u))[lo:hi]
    previous[lo:hi, :] = 0.0
    hs = h[lo:hi]
    split = cell == CELL.gru and not reset_after
    offs = np.empty(MR, np.int64)
    flat_h = h.reshape(-1)
    at_hw = batch * steps * g + lo * g  # hw's rows in scratch
    at_work = batch * (steps * g + g + u) + lo * u
    for s in range(steps):
        t = steps - 1 - s if go_backwards else s
        if split:  # z and r from h, then the candidate's product from r * h
            dense_rows(flat_h, lo * u, hi - lo, u, wr, 0, scratch, at_hw, g, 2 * u, offs)
            for b in range(hi - lo):
                r = work[b]
                r[:] = xw[(lo + b) * steps + t, u: 2 * u] + hw[b, u: 2 * u]
                gate(r, rec_act)
                r *= hs[b]
            dense_rows(scratch, at_work, hi - lo, u, wr, u * npanels(2 * u) * NR, scratch,
                       at_hw + 2 * u, g, u, offs)
        else:
            dense_rows(flat_h, lo * u, hi - lo, u, wr, 0, scratch, at_hw, g, g, offs)
            if cell == CELL.gru and has_bias:
                for b in range(hi - lo):
                    hw[b] += bias[g: 2 * g]
        for b in range(lo, hi):
            if has_mask and mask[b * steps + t] == 0.0:
                if return_sequences == 2:  # zero_output_for_mask
                    y[(b * steps + s) * u: (b * steps + s + 1) * u] = 0.0
                elif return_sequences:
                    y[(b * steps + s) * u: (b * steps + s + 1) * u] = previous[b]
                continue
            xr = xw[b * steps + t]
            z = hw[b - lo]  # the pre-activations, then the gates, in place
            hb = h[b]
            if cell == CELL.simple_rnn:
                z += xr
                gate(z, act)
                hb[:] = z
            elif cell == CELL.lstm:
                z += xr
                gate(z[:u], rec_act)  # gate by gate: softmax normalizes within one
                gate(z[u: 2 * u], rec_act)
                gate(z[2 * u: 3 * u], act)
                gate(z[3 * u:], rec_act)
                # gates as slices indexed by the loop counter: z[u + j] made
                # Numba check each index for being negative, and no loop vectorized
                zi, zf, zc, zo = z[:u], z[u: 2 * u], z[2 * u: 3 * u], z[3 * u:]
                cb, tc = c[b], work[b - lo]
                for j in range(u):
                    cb[j] = zf[j] * cb[j] + zi[j] * zc[j]
                tc[:] = cb
                gate(tc, act)
                for j in range(u):
                    hb[j] = zo[j] * tc[j]
            else:
                zz, zr, zh = z[:u], z[u: 2 * u], z[2 * u:]
                xz, xh = xr[:u], xr[2 * u:]
                if split:
                    for j in range(u):
                        zz[j] += xz[j]
                        zh[j] += xh[j]
                    gate(zz, rec_act)
                else:
                    for j in range(2 * u):
                        z[j] += xr[j]
                    gate(zz, rec_act)
                    gate(zr, rec_act)
                    for j in range(u):
                        zh[j] = xh[j] + zr[j] * zh[j]
                gate(zh, act)
                for j in range(u):
                    hb[j] = zz[j] * hb[j] + (1.0 - zz[j]) * zh[j]
            previous[b] = hb
            if return_sequences:
                y[(b * steps + s) * u: (b * steps + s + 1) * u] = hb
    if not return_sequences:
        y[lo * u: hi * u] = previous[lo:hi].reshape((hi - lo) * u)


@njit(**JIT)
def run(arena, weights, state, batch, x, wk, wr, b, y, scratch, mask, init, h0, c0,
        ret_state, ht, ct, state_at, steps, features, units, cell, act, rec_act,
        reset_after, return_sequences, go_backwards):  # noqa: PLR0913
    """One recurrent instruction: set up the working states (zeros, initial
    states from the arena, or a stateful layer's states), run, write back
    (the set-up and write-back by the team's owner alone: team.py)."""
    u = units
    g = GATE_COUNT[cell] * units
    own = batch * (steps * g + g + 2 * u)
    h = arena[scratch + own: scratch + own + batch * u].reshape((batch, u))
    c = arena[scratch + own + batch * u: scratch + own + 2 * batch * u].reshape((batch, u))
    lead = team.lead()
    if lead and init == INIT.arena:
        h[:, :] = arena[h0: h0 + batch * u].reshape((batch, u))
        if cell == CELL.lstm:
            c[:, :] = arena[c0: c0 + batch * u].reshape((batch, u))
    elif lead and init == INIT.state:
        h[:, :] = state[state_at: state_at + batch * u].reshape((batch, u))
        if cell == CELL.lstm:
            c[:, :] = state[state_at + batch * u: state_at + 2 * batch * u].reshape((batch, u))
    elif lead:
        h[:, :] = 0.0
        c[:, :] = 0.0
    out_size = batch * steps * u if return_sequences else batch * u
    recurrent(arena[x: x + batch * steps * features], arena[mask: mask + batch * steps],
              mask >= 0, h, c, wk, wr, b, b.size > 0, arena[y: y + out_size],
              arena[scratch: scratch + own], batch, steps, features, units, cell, act,
              rec_act, reset_after, return_sequences, go_backwards)
    if not lead:
        return
    if ret_state:
        arena[ht: ht + batch * u] = h.reshape(batch * u)
        if cell == CELL.lstm:
            arena[ct: ct + batch * u] = c.reshape(batch * u)
    if state_at >= 0:
        state[state_at: state_at + batch * u] = h.reshape(batch * u)
        if cell == CELL.lstm:
            state[state_at + batch * u: state_at + 2 * batch * u] = c.reshape(batch * u)


# ----- the step -----
@runs(RECURRENT)
@njit(**JIT)
def run_recurrent(r, weights, arena, state, batch):
    features, units, cell = r[_R.features], r[_R.units], r[_R.cell]
    g = GATE_COUNT[cell] * units
    b = r[_R.b]
    bias_size = 0 if b < 0 else (2 * g if cell == CELL.gru and r[_R.reset_after] == 1 else g)
    mask, slot = r[_R.mask], r[_R.state]
    run(arena, weights, state, batch, r[_R.x] * batch,
        weights[r[_R.wk]: r[_R.wk] + features * npanels(g) * NR],
        weights[r[_R.wr]: r[_R.wr] + units * (npanels(g) + 1) * NR],
        weights[max(b, 0): max(b, 0) + bias_size], r[_R.y] * batch, r[_R.scratch] * batch,
        mask * batch if mask >= 0 else -1, r[_R.init], r[_R.h0] * batch, r[_R.c0] * batch,
        r[_R.ret_state] == 1, r[_R.ht] * batch, r[_R.ct] * batch,
        slot * batch if slot >= 0 else -1, r[_R.steps], features, units, cell, r[_R.act],
        r[_R.rec_act], r[_R.reset_after] == 1, r[_R.seq], r[_R.backwards] == 1)


# ----- the lowering -----
@lowers(OpKind.RECURRENT)
def lower_recurrent(e: Emitter, node: Node) -> None:
    a = node.attrs
    operands = lowering.recurrent_operands(e, node)
    u = a.units
    g = GATE_COUNT[operands["cell"]] * u
    # GRU without reset_after multiplies r * h before the candidate's product,
    # so its recurrent kernel is packed as two blocks: z and r, then the candidate.
    pack_recurrent = (lambda w: np.concatenate([pack(w[:, : 2 * u]), pack(w[:, 2 * u:])])) \
        if a.cell == "gru" and not a.reset_after else pack
    scratch = e.scratch(operands["steps"] * g + g + 4 * u)  # the kernel's own, then h and c
    e.instr(RECURRENT, node, **operands, x=e.offset(node.inputs[0]),
            wk=e.weight(node.weights[0], pack=pack),
            wr=e.weight(node.weights[1], pack=pack_recurrent),
            b=e.weight(node.weights[2]) if a.use_bias else -1, scratch=scratch)
