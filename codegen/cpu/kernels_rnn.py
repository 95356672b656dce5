"""The CPU kernel for recurrent layers (SimpleRNN, GRU, LSTM).

The input projection of every step is one GEMM up front; each step then does
one small GEMM with the recurrent kernel and the gate math in a fused loop.
Masked steps keep the states and repeat the previous output, as Keras does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen.cpu.kernels import JIT, _scalar

SIMPLE_RNN, GRU, LSTM = 0, 1, 2
CELLS = {"simple_rnn": SIMPLE_RNN, "gru": GRU, "lstm": LSTM}
GATE_COUNT = (1, 3, 4)  # by cell code


@njit(**JIT)
def recurrent(x, mask, has_mask, h, c, wk, wr, bias, has_bias, y, scratch, batch, steps,
              features, units, cell, act, rec_act, reset_after, return_sequences,
              go_backwards):
    """Runs the sequence x (batch, steps, features) from the states h and c
    (batch, units; updated in place to the final states) into y. Scratch:
    batch * (steps * G + G + 5 * units) floats. The
    recurrent kernel wr is (units, G) except for GRU without reset_after,
    where it is [wr[:, :2u] | wr[:, 2u:]] stored as two contiguous blocks."""
    u = units
    g = wk.size // features
    xw = scratch[: batch * steps * g].reshape((batch * steps, g))
    hw = scratch[batch * steps * g: batch * (steps * g + g)].reshape((batch, g))
    extra = scratch[batch * (steps * g + g): batch * (steps * g + g + 5 * u)]
    previous = extra[: batch * u].reshape((batch, u))
    rh = extra[batch * u: 2 * batch * u].reshape((batch, u))
    hzr = extra[2 * batch * u: 4 * batch * u].reshape((batch, 2 * u))
    hh = extra[4 * batch * u: 5 * batch * u].reshape((batch, u))
    np.dot(x.reshape((batch * steps, features)), wk.reshape((features, g)), xw)
    if has_bias:
        for r in range(batch * steps):
            xw[r] += bias[:g]
    previous[:, :] = 0.0
    split = cell == GRU and not reset_after
    for s in range(steps):
        t = steps - 1 - s if go_backwards else s
        if split:
            np.dot(h, wr[: u * 2 * u].reshape((u, 2 * u)), hzr)
            hw[:, : 2 * u] = hzr
        else:
            np.dot(h, wr.reshape((u, g)), hw)
        if cell == GRU and reset_after and has_bias:
            for b in range(batch):
                hw[b] += bias[g: 2 * g]
        if split:  # GRU (reset_after=False): the candidate needs (r * h) @ U_h
            for b in range(batch):
                for j in range(u):
                    r = _scalar(np.float64(xw[b * steps + t, u + j] + hw[b, u + j]), rec_act)
                    rh[b, j] = r * h[b, j]
            np.dot(rh, wr[u * 2 * u:].reshape((u, u)), hh)
            hw[:, 2 * u:] = hh
        for b in range(batch):
            if has_mask and mask[b * steps + t] == 0.0:
                if return_sequences:
                    y[(b * steps + s) * u: (b * steps + s + 1) * u] = previous[b]
                continue
            xr = xw[b * steps + t]
            hr = hw[b]
            for j in range(u):
                if cell == SIMPLE_RNN:
                    hn = _scalar(np.float64(xr[j] + hr[j]), act)
                elif cell == LSTM:
                    i = _scalar(np.float64(xr[j] + hr[j]), rec_act)
                    f = _scalar(np.float64(xr[u + j] + hr[u + j]), rec_act)
                    cand = _scalar(np.float64(xr[2 * u + j] + hr[2 * u + j]), act)
                    o = _scalar(np.float64(xr[3 * u + j] + hr[3 * u + j]), rec_act)
                    cn = f * c[b, j] + i * cand
                    c[b, j] = cn
                    hn = o * _scalar(cn, act)
                else:
                    z = _scalar(np.float64(xr[j] + hr[j]), rec_act)
                    if reset_after:
                        r = _scalar(np.float64(xr[u + j] + hr[u + j]), rec_act)
                        cand = _scalar(np.float64(xr[2 * u + j] + r * hr[2 * u + j]), act)
                    else:
                        cand = _scalar(np.float64(xr[2 * u + j] + hr[2 * u + j]), act)
                    hn = z * h[b, j] + (1.0 - z) * cand
                h[b, j] = hn
                previous[b, j] = hn
            if return_sequences:
                y[(b * steps + s) * u: (b * steps + s + 1) * u] = previous[b]
    if not return_sequences:
        y[: batch * u] = previous.reshape(batch * u)


@njit(**JIT)
def run(arena, weights, state, batch, x, wk, wr, b, y, scratch, mask, init, h0, c0,
        ret_state, ht, ct, state_at, steps, features, units, cell, act, rec_act,
        reset_after, return_sequences, go_backwards):  # noqa: PLR0913
    """One recurrent instruction: set up the working states (zeros, initial
    states from the arena, or a stateful layer's states), run, write back."""
    u = units
    g = (wk.size // features)
    own = batch * (steps * g + g + 5 * u)
    h = arena[scratch + own: scratch + own + batch * u].reshape((batch, u))
    c = arena[scratch + own + batch * u: scratch + own + 2 * batch * u].reshape((batch, u))
    if init == 1:
        h[:, :] = arena[h0: h0 + batch * u].reshape((batch, u))
        if cell == LSTM:
            c[:, :] = arena[c0: c0 + batch * u].reshape((batch, u))
    elif init == 2:
        h[:, :] = state[state_at: state_at + batch * u].reshape((batch, u))
        if cell == LSTM:
            c[:, :] = state[state_at + batch * u: state_at + 2 * batch * u].reshape((batch, u))
    else:
        h[:, :] = 0.0
        c[:, :] = 0.0
    out_size = batch * steps * u if return_sequences else batch * u
    recurrent(arena[x: x + batch * steps * features], arena[mask: mask + batch * steps],
              mask >= 0, h, c, wk, wr, b, b.size > 0, arena[y: y + out_size],
              arena[scratch: scratch + own], batch, steps, features, units, cell, act,
              rec_act, reset_after, return_sequences, go_backwards)
    if ret_state:
        arena[ht: ht + batch * u] = h.reshape(batch * u)
        if cell == LSTM:
            arena[ct: ct + batch * u] = c.reshape(batch * u)
    if state_at >= 0:
        state[state_at: state_at + batch * u] = h.reshape(batch * u)
        if cell == LSTM:
            state[state_at + batch * u: state_at + 2 * batch * u] = c.reshape(batch * u)
