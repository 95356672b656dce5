"""CPU lowering of the recurrent op, and the runtime state slots it declares."""

from __future__ import annotations

import numpy as np

from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.kernels_rnn import CELLS
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import ACT_CODE, RECURRENT
from layerc.ir import Node, OpKind
from layerc.ir.ops.recurrent import GATES, state_count


@lowers(OpKind.RECURRENT)
def lower_recurrent(e: Emitter, node: Node) -> None:
    a = node.attrs
    x = e.graph.type_of(node.inputs[0])
    steps, features, u = x.shape[1], x.shape[2], a.units
    g = GATES[a.cell] * u
    split = a.cell == "gru" and not a.reset_after
    # GRU without reset_after multiplies r * h before the candidate's product,
    # so its recurrent kernel is stored as two contiguous blocks.
    pack = (lambda w: np.concatenate([np.ascontiguousarray(w[:, : 2 * u]).ravel(),
                                      np.ascontiguousarray(w[:, 2 * u:]).ravel()])) \
        if split else None
    kernel = e.weight(node.weights[0])
    recurrent = e.weight(node.weights[1], pack=pack)
    bias = e.weight(node.weights[2]) if a.use_bias else -1
    scratch = e.scratch(steps * g + g + 4 * u)  # the kernel's own, then working h and c
    states = node.inputs[1 + a.has_mask:]
    init = 2 if a.stateful else (1 if a.has_initial_state else 0)
    count = state_count(a)
    slot = e.state(node.layer or node.id, count, u) if a.stateful else -1
    e.instr(RECURRENT, node, x=e.offset(node.inputs[0]), wk=kernel, wr=recurrent, b=bias,
            y=e.offset(node.port()), scratch=scratch,
            mask=e.offset(node.inputs[1]) if a.has_mask else -1, init=init,
            h0=e.offset(states[0]) if a.has_initial_state else 0,
            c0=e.offset(states[1]) if a.has_initial_state and count == 2 else 0,
            ret_state=int(a.return_state), ht=e.offset(node.port(1)) if a.return_state else 0,
            ct=e.offset(node.port(2)) if a.return_state and count == 2 else 0, state=slot,
            steps=steps, features=features, units=u, cell=CELLS[a.cell],
            act=ACT_CODE[a.activation], rec_act=ACT_CODE[a.recurrent_activation],
            reset_after=int(a.reset_after), seq=int(a.return_sequences),
            backwards=int(a.go_backwards))
