"""CUDA: the recurrent layers (SimpleRNN, GRU, LSTM): the sequence kernel, its
launcher, and the lowering (two launches per layer: the input projection of
every step as one tiled GEMM into scratch, with the input bias, then the
sequence kernel), with the runtime state slot a stateful layer declares.

A block per sample runs the whole sequence; its threads own units (a thread
strides over units when there are more units than threads), and a thread
computes every gate of its units, so the gates are fused. The input
projection (x @ kernel + input bias, every step at once) was computed before
by the dense kernel into `xw`. Working buffers live in per-sample arena
scratch: P (pre-activations, up to 4u), Q (u), H (u), C (u); a barrier
separates each phase that reads another unit's values from the writes after
it. Softmax activations normalize over a gate block via `row_act`, so they
read a whole, finished block. A masked step (uniform over the block) keeps
the states and repeats the previous output, as Keras does.
"""

from __future__ import annotations

from typing import Any

from layerc.codegen import lowering
from layerc.codegen.codes import ACT, CELL, GATE_COUNT, INIT
from layerc.codegen.cuda import launch
from layerc.codegen.cuda.emitter import Emitter
from layerc.codegen.cuda.kernels import ONE, ZERO, cuda, row_act
from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.launch import launcher
from layerc.codegen.cuda.lower import lowers
from layerc.codegen.cuda.ops.core import DENSE
from layerc.ir import Node, OpKind

# xw: the input projection (scratch); brec: the recurrent bias of GRU with
# reset_after (-1: none); work: per-sample working floats (WORK_UNITS * units).
RECURRENT = kernel("recurrent", "xw wr brec y mask init h0 c0 ret_state ht ct state work "
                                "steps features units cell act rec_act reset_after seq "
                                "backwards")
# Per-sample working floats of the sequence kernel, in units: pre-activations
# of up to 4 gates, a candidate / r*h buffer, h and c.
WORK_UNITS = 7


@cuda.jit
def recurrent(a, wt, state, batch, xw, wr, brec, yo, mask, init, h0, c0, ret_state, ht, ct,
              so, work, steps, u, cell, act, rec_act, reset_after, seq, backwards):
    b = cuda.blockIdx.x
    if b >= batch:
        return
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    gates = GATE_COUNT[cell]
    g = gates * u
    p = work + b * 7 * u  # P: 4u, Q: u, H: u, C: u
    q = p + 4 * u
    hb = q + u
    cb = hb + u
    for j in range(tid, u, nt):
        hv = ZERO
        cv = ZERO
        if init == INIT.arena:
            hv = a[h0 + b * u + j]
            if cell == CELL.lstm:
                cv = a[c0 + b * u + j]
        elif init == INIT.state:
            hv = state[so + b * u + j]
            if cell == CELL.lstm:
                cv = state[so + batch * u + b * u + j]
        a[hb + j] = hv
        a[cb + j] = cv
    cuda.syncthreads()
    seen = False  # an unmasked step has run: the previous output is h, else zeros
    for s in range(steps):
        t = steps - 1 - s if backwards else s
        xb = xw + (b * steps + t) * g
        kept = mask < 0 or a[mask + b * steps + t] != ZERO
        if kept:
            seen = True
            # Phase A: recurrent products h @ wr for every gate of this thread's
            # units (GRU without reset_after: z and r only; h's gate waits for r).
            direct = gates if cell != CELL.gru or reset_after else 2
            for j in range(tid, u, nt):
                for gi in range(direct):
                    col = gi * u + j
                    acc = ZERO
                    for i in range(u):
                        acc += a[hb + i] * wt[wr + i * g + col]
                    if brec >= 0:
                        acc += wt[brec + col]
                    if cell == CELL.gru and reset_after and gi == 2:
                        a[p + col] = acc  # hw_h: r multiplies it after the barrier
                    else:
                        a[p + col] = acc + a[xb + col]
            cuda.syncthreads()
            if cell == CELL.simple_rnn:
                for j in range(tid, u, nt):
                    a[q + j] = row_act(a, p, j, u, act)
                cuda.syncthreads()
                for j in range(tid, u, nt):
                    a[hb + j] = a[q + j]
            elif cell == CELL.lstm:
                for j in range(tid, u, nt):
                    ig = row_act(a, p, j, u, rec_act)
                    fg = row_act(a, p + u, j, u, rec_act)
                    cc = row_act(a, p + 2 * u, j, u, act)
                    a[q + j] = fg * a[cb + j] + ig * cc  # the new c
                cuda.syncthreads()
                for j in range(tid, u, nt):
                    og = row_act(a, p + 3 * u, j, u, rec_act)
                    a[hb + j] = og * row_act(a, q, j, u, act)
                cuda.syncthreads()
                for j in range(tid, u, nt):
                    a[cb + j] = a[q + j]
            else:
                for j in range(tid, u, nt):
                    r = row_act(a, p + u, j, u, rec_act)
                    if reset_after:
                        a[q + j] = a[xb + 2 * u + j] + r * a[p + 2 * u + j]
                    else:
                        a[q + j] = r * a[hb + j]  # r * h, the candidate's input
                cuda.syncthreads()
                if not reset_after:
                    for j in range(tid, u, nt):
                        acc = ZERO
                        for i in range(u):
                            acc += a[q + i] * wt[wr + i * g + 2 * u + j]
                        a[p + 2 * u + j] = acc + a[xb + 2 * u + j]
                    cuda.syncthreads()
                # the candidate's pre-activation: Q with reset_after, else P's h block
                cand = q if reset_after else p + 2 * u
                for j in range(tid, u, nt):
                    z = row_act(a, p, j, u, rec_act)
                    hh = row_act(a, cand, j, u, act)
                    a[p + 3 * u + j] = z * a[hb + j] + (ONE - z) * hh
                cuda.syncthreads()
                for j in range(tid, u, nt):
                    a[hb + j] = a[p + 3 * u + j]
            cuda.syncthreads()
        if seq:  # 2: zero_output_for_mask, a masked step's output is zeros
            for j in range(tid, u, nt):
                a[yo + (b * steps + s) * u + j] = a[hb + j] if seen and (
                    kept or seq == 1) else ZERO
    if not seq:
        for j in range(tid, u, nt):
            a[yo + b * u + j] = a[hb + j] if seen else ZERO
    for j in range(tid, u, nt):
        if ret_state:
            a[ht + b * u + j] = a[hb + j]
            if cell == CELL.lstm:
                a[ct + b * u + j] = a[cb + j]
        if so >= 0:
            state[so + b * u + j] = a[hb + j]
            if cell == CELL.lstm:
                state[so + batch * u + b * u + j] = a[cb + j]


@launcher(RECURRENT)
def _recurrent(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    if batch == 0:
        return
    u = o["units"]
    scaled = {name: o[name] * batch for name in ("xw", "y", "h0", "c0", "ht", "ct", "work")}
    recurrent[batch, min(u, launch.RNN_THREADS)](
        arena, weights, state, batch, scaled["xw"], o["wr"], o["brec"], scaled["y"],
        o["mask"] * batch if o["mask"] >= 0 else -1, o["init"], scaled["h0"], scaled["c0"],
        o["ret_state"], scaled["ht"], scaled["ct"], o["state"] * batch if o["state"] >= 0
        else -1, scaled["work"], o["steps"], u, o["cell"], o["act"], o["rec_act"],
        o["reset_after"], o["seq"], o["backwards"])


@lowers(OpKind.RECURRENT)
def lower_recurrent(e: Emitter, node: Node) -> None:
    a = node.attrs
    operands = lowering.recurrent_operands(e, node)
    steps, u = operands["steps"], operands["units"]
    g = GATE_COUNT[operands["cell"]] * u
    scratch = e.scratch(steps * g + WORK_UNITS * u)
    bias = e.weight(node.weights[2]) if a.use_bias else -1
    e.launch(DENSE, node, x=e.offset(node.inputs[0]), w=e.weight(node.weights[0]), b=bias,
             y=scratch, rows=steps, k=operands["features"], n=g, act=ACT.linear)
    split_bias = a.cell == "gru" and a.reset_after and a.use_bias
    e.launch(RECURRENT, node, **operands, xw=scratch, wr=e.weight(node.weights[1]),
             brec=bias + g if split_bias else -1, work=scratch + steps * g)
