"""The CUDA sequence kernel of SimpleRNN, GRU and LSTM.

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

from layerc.codegen.cuda.codes import GRU, INIT_ARENA, INIT_STATE, LSTM, SIMPLE_RNN
from layerc.codegen.cuda.kernels import ONE, ZERO, cuda, row_act


@cuda.jit
def recurrent(a, wt, state, batch, xw, wr, brec, yo, mask, init, h0, c0, ret_state, ht, ct,
              so, work, steps, u, cell, act, rec_act, reset_after, seq, backwards):
    b = cuda.blockIdx.x
    if b >= batch:
        return
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    gates = 1 if cell == SIMPLE_RNN else (3 if cell == GRU else 4)
    g = gates * u
    p = work + b * 7 * u  # P: 4u, Q: u, H: u, C: u
    q = p + 4 * u
    hb = q + u
    cb = hb + u
    for j in range(tid, u, nt):
        hv = ZERO
        cv = ZERO
        if init == INIT_ARENA:
            hv = a[h0 + b * u + j]
            if cell == LSTM:
                cv = a[c0 + b * u + j]
        elif init == INIT_STATE:
            hv = state[so + b * u + j]
            if cell == LSTM:
                cv = state[so + batch * u + b * u + j]
        a[hb + j] = hv
        a[cb + j] = cv
    cuda.syncthreads()
    seen = False  # an unmasked step has run: the previous output is h, else zeros
    for s in range(steps):
        t = steps - 1 - s if backwards else s
        xb = xw + (b * steps + t) * g
        if mask < 0 or a[mask + b * steps + t] != ZERO:
            seen = True
            # Phase A: recurrent products h @ wr for every gate of this thread's
            # units (GRU without reset_after: z and r only; h's gate waits for r).
            direct = gates if cell != GRU or reset_after else 2
            for j in range(tid, u, nt):
                for gi in range(direct):
                    col = gi * u + j
                    acc = ZERO
                    for i in range(u):
                        acc += a[hb + i] * wt[wr + i * g + col]
                    if brec >= 0:
                        acc += wt[brec + col]
                    if cell == GRU and reset_after and gi == 2:
                        a[p + col] = acc  # hw_h: r multiplies it after the barrier
                    else:
                        a[p + col] = acc + a[xb + col]
            cuda.syncthreads()
            if cell == SIMPLE_RNN:
                for j in range(tid, u, nt):
                    a[q + j] = row_act(a, p, j, u, act)
                cuda.syncthreads()
                for j in range(tid, u, nt):
                    a[hb + j] = a[q + j]
            elif cell == LSTM:
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
        if seq:
            for j in range(tid, u, nt):
                a[yo + (b * steps + s) * u + j] = a[hb + j] if seen else ZERO
    if not seq:
        for j in range(tid, u, nt):
            a[yo + b * u + j] = a[hb + j] if seen else ZERO
    for j in range(tid, u, nt):
        if ret_state:
            a[ht + b * u + j] = a[hb + j]
            if cell == LSTM:
                a[ct + b * u + j] = a[cb + j]
        if so >= 0:
            state[so + b * u + j] = a[hb + j]
            if cell == LSTM:
                state[so + batch * u + b * u + j] = a[cb + j]
