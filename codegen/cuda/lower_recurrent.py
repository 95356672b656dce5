"""CUDA lowering of the recurrent op, and the runtime state slots it declares.

Two launches per layer: the input projection of every step as one tiled GEMM
into scratch (with the input bias), then one kernel that runs the whole
sequence, a block per sample, its threads over the units, all gates of a
unit fused in the thread that owns it.
"""

from __future__ import annotations

from layerc.codegen.cuda.codes import (ACT_CODE, CELLS, INIT_ARENA, INIT_STATE, INIT_ZEROS)
from layerc.codegen.cuda.emitter import Emitter
from layerc.codegen.cuda.lower import lowers
from layerc.ir import Node, OpKind
from layerc.ir.ops.recurrent import GATES, state_count

# Per-sample working floats of the sequence kernel, in units: pre-activations
# of up to 4 gates, a candidate / r*h buffer, h and c.
WORK_UNITS = 7


@lowers(OpKind.RECURRENT)
def lower_recurrent(e: Emitter, node: Node) -> None:
    a = node.attrs
    x = e.graph.type_of(node.inputs[0])
    steps, features, u = x.shape[1], x.shape[2], a.units
    g = GATES[a.cell] * u
    scratch = e.scratch(steps * g + WORK_UNITS * u)  # type: ignore[operator]
    bias = e.weight(node.weights[2]) if a.use_bias else -1
    split_bias = a.cell == "gru" and a.reset_after and a.use_bias
    e.launch("dense", node, x=e.offset(node.inputs[0]), w=e.weight(node.weights[0]), b=bias,
             y=scratch, rows=steps, k=features, n=g, act=ACT_CODE["linear"])  # type: ignore
    states = node.inputs[1 + a.has_mask:]
    two = state_count(a) == 2
    init = INIT_STATE if a.stateful else (INIT_ARENA if a.has_initial_state else INIT_ZEROS)
    slot = e.state(node.layer or node.id, state_count(a), u) if a.stateful else -1
    e.launch("recurrent", node, xw=scratch, wr=e.weight(node.weights[1]),
             brec=bias + g if split_bias else -1, y=e.offset(node.port()),
             mask=e.offset(node.inputs[1]) if a.has_mask else -1, init=init,
             h0=e.offset(states[0]) if a.has_initial_state else 0,
             c0=e.offset(states[1]) if a.has_initial_state and two else 0,
             ret_state=int(a.return_state), ht=e.offset(node.port(1)) if a.return_state else 0,
             ct=e.offset(node.port(2)) if a.return_state and two else 0, state=slot,
             work=scratch + steps * g, steps=steps, units=u, cell=CELLS[a.cell],  # type: ignore
             act=ACT_CODE[a.activation], rec_act=ACT_CODE[a.recurrent_activation],
             reset_after=int(a.reset_after), seq=int(a.return_sequences),
             backwards=int(a.go_backwards))
