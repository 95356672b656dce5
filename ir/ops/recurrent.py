"""Rules for the recurrent ops: SimpleRNN, GRU and LSTM over a sequence.

Inputs: the sequence (batch, time, features), then the mask (batch, time) of
1/0 values when the layer has one, then the initial states when given.
Outputs: the output (last or whole sequence), then the final states when
`return_state`. Weights follow Keras: kernel (in, gates * u), recurrent kernel
(u, gates * u), bias (gates * u,) or, for GRU with reset_after, (2, 3u).
Gate order: LSTM i, f, c, o; GRU z, r, h.

A masked step keeps the states and repeats the previous output (zeros before
the first unmasked step), as Keras does; `go_backwards` reads the sequence
from its end and returns outputs in that order. The states of a stateful
layer live in the runtime; the IR only declares their shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerc.ir import activations
from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.ops import checks
from layerc.ir.registry import OpRule, register
from layerc.ir.types import TensorType

GATES = {"simple_rnn": 1, "gru": 3, "lstm": 4}
STATES = {"simple_rnn": 1, "gru": 1, "lstm": 2}


@dataclass(frozen=True, slots=True)
class RecurrentAttrs:
    cell: str  # simple_rnn, gru or lstm
    units: int
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    use_bias: bool = True
    return_sequences: bool = False
    return_state: bool = False
    go_backwards: bool = False
    reset_after: bool = True  # GRU only
    stateful: bool = False
    has_mask: bool = False
    has_initial_state: bool = False
    # a masked step's output is zeros rather than the previous output (Keras's
    # zero_output_for_mask; Bidirectional sets it with return_sequences)
    zero_output_for_mask: bool = False


def state_count(a: RecurrentAttrs) -> int:
    return STATES[a.cell]


def _infer_rnn(a: RecurrentAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    checks.one_of("cell", a.cell, GATES)
    checks.positive("units", a.units)
    checks.activation("activation", a.activation)
    checks.activation("recurrent_activation", a.recurrent_activation)
    x = ins[0]
    if x.rank != 3 or x.shape[2] is None:
        raise ShapeError(f"expected input (batch, timesteps, features) with the features "
                         f"known, got {x}")
    expected = 1 + a.has_mask + (state_count(a) if a.has_initial_state else 0)
    if len(ins) != expected:
        raise ShapeError(f"expected {expected} inputs (sequence, mask, initial states), "
                         f"got {len(ins)}")
    if a.has_mask and ins[1].shape != (None, x.shape[1]):
        raise ShapeError(f"expected a mask of shape (batch, {x.shape[1]}), got {ins[1]}")
    for t in ins[1 + a.has_mask:]:
        if t.shape != (None, a.units):
            raise ShapeError(f"expected initial states of shape (batch, {a.units}), got {t}")
    out = TensorType((None, x.shape[1], a.units)) if a.return_sequences \
        else TensorType((None, a.units))
    states = (TensorType((None, a.units)),) * state_count(a) if a.return_state else ()
    return (out, *states)


def _rnn_weights(a: RecurrentAttrs, ins: tuple[TensorType, ...]) -> tuple[tuple[int, ...], ...]:
    g = GATES[a.cell] * a.units
    shapes: tuple[tuple[int, ...], ...] = ((ins[0].shape[2], g), (a.units, g))  # type: ignore
    if a.use_bias:
        shapes += ((2, g),) if a.cell == "gru" and a.reset_after else ((g,),)
    return shapes


def step(a: RecurrentAttrs, x: np.ndarray, states: list[np.ndarray],
         ws: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """One time step in float64: (output, new states)."""
    act = activations.ACTIVATIONS[a.activation]
    rec = activations.ACTIVATIONS[a.recurrent_activation]
    kernel, recurrent = ws[0], ws[1]
    bias = ws[2] if a.use_bias else np.zeros((2, kernel.shape[1]) if a.cell == "gru"
                                             and a.reset_after else kernel.shape[1])
    u = a.units
    h = states[0]
    if a.cell == "simple_rnn":
        h = act(x @ kernel + h @ recurrent + bias)
        return h, [h]
    if a.cell == "lstm":
        z = x @ kernel + h @ recurrent + bias
        i, f = rec(z[:, :u]), rec(z[:, u:2 * u])
        c = f * states[1] + i * act(z[:, 2 * u:3 * u])
        h = rec(z[:, 3 * u:]) * act(c)
        return h, [h, c]
    if a.reset_after:
        xw = x @ kernel + bias[0]
        hw = h @ recurrent + bias[1]
        z = rec(xw[:, :u] + hw[:, :u])
        r = rec(xw[:, u:2 * u] + hw[:, u:2 * u])
        hh = act(xw[:, 2 * u:] + r * hw[:, 2 * u:])
    else:
        xw = x @ kernel + bias
        z = rec(xw[:, :u] + h @ recurrent[:, :u])
        r = rec(xw[:, u:2 * u] + h @ recurrent[:, u:2 * u])
        hh = act(xw[:, 2 * u:] + (r * h) @ recurrent[:, 2 * u:])
    h = z * h + (1 - z) * hh
    return h, [h]


def run_sequence(a: RecurrentAttrs, x: np.ndarray, mask: np.ndarray | None,
                 states: list[np.ndarray], ws: list[np.ndarray]
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    """All steps: (outputs (batch, time, units) in processing order, final states)."""
    batch, steps = x.shape[0], x.shape[1]
    ws = [w.astype(np.float64) for w in ws]
    outputs = np.zeros((batch, steps, a.units))
    previous = np.zeros((batch, a.units))
    for s in range(steps):
        t = steps - 1 - s if a.go_backwards else s
        out, new = step(a, x[:, t].astype(np.float64), states, ws)
        if mask is not None:
            keep = (mask[:, t] != 0)[:, None]
            out = np.where(keep, out, previous)
            new = [np.where(keep, n, old) for n, old in zip(new, states)]
            outputs[:, s] = np.where(keep, out, 0.0) if a.zero_output_for_mask else out
            previous = out
        else:
            outputs[:, s] = previous = out
        states = new
    return outputs, states


def _ref_rnn(a: RecurrentAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    x = xs[0]
    mask = xs[1] if a.has_mask else None
    given = xs[1 + a.has_mask:]
    states = [np.asarray(s, np.float64) for s in given] if a.has_initial_state else \
        [np.zeros((x.shape[0], a.units)) for _ in range(state_count(a))]
    outputs, states = run_sequence(a, x, mask, states, ws)
    out = outputs if a.return_sequences else outputs[:, -1]
    results = [out] + (states if a.return_state else [])
    return [r.astype(np.float32) for r in results]


def _state_shapes(a: RecurrentAttrs) -> tuple[tuple[int, ...], ...]:
    return ((a.units,),) * state_count(a) if a.stateful else ()


def _rnn_flops(a: RecurrentAttrs, ins: tuple[TensorType, ...],
               outs: tuple[TensorType, ...]) -> int:
    """The gates' two products per step, input (features x gates * units) and
    recurrent (units x gates * units); masked steps and the gate math are
    not counted."""
    steps, features = ins[0].shape[1], ins[0].shape[2]
    return 2 * steps * (features + a.units) * GATES[a.cell] * a.units  # type: ignore[operator]


register(OpRule(OpKind.RECURRENT, RecurrentAttrs, _infer_rnn, _ref_rnn, _rnn_weights,
                arity=(1, 4), sums_products=True, state_shapes=_state_shapes,
                mask_inputs=lambda a: (1,) if a.has_mask else (), flops=_rnn_flops))
