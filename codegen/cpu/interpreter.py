"""The plan interpreter: one cached njit function that runs a whole model.

A model's program is data (an int64 plan and two float32 arenas), so after
this function and the kernels are compiled once per machine, compiling any
model costs no Numba compilation at all, whatever its depth, and a predict
crosses from Python into native code once.

Each op family registers the step that runs its opcode's rows
(`opcodes.runs`). The steps are compiled and cached one by one (build.py),
each when a program first needs it, and the interpreter calls them through a
table of their native addresses indexed by opcode (`call_step`): so the
interpreter is small, compiles in about a second whatever the opcodes, and an
MLP's first run never waits for the recurrent kernels. A new opcode needs no
edit here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import carray, njit, types
from numba.core import cgutils

from layerc.codegen.cpu import team
from layerc.codegen.cpu.kernels import JIT, move, native
from layerc.codegen.cpu.opcodes import OPCODE
from layerc.codegen.cpu.threads import enter, leave

# The types a step takes: a plan row, the weights, the arena, the state, the batch.
ROW = types.Array(types.int64, 1, "C")
FLOATS = types.Array(types.float32, 1, "C")
STEP_ARGS = (ROW, FLOATS, FLOATS, FLOATS, types.int64)


@native
def call_step(typingctx: Any, address: Any, r: Any, weights: Any, arena: Any, state: Any,
              batch: Any) -> Any:
    """Calls the compiled step at `address` (its Numba native entry point,
    build.py) on a row. The arguments must have the step's compiled types
    (STEP_ARGS), which the interpreter's own argument types guarantee."""
    sig = types.void(types.int64, ROW, FLOATS, FLOATS, FLOATS, types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fnty = context.call_conv.get_function_type(types.void, STEP_ARGS)
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        status, _ = context.call_conv.call_function(builder, fn, types.void, STEP_ARGS,
                                                    args[1:])
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return context.get_dummy_value()

    return sig, codegen


@native
def call_step_quietly(typingctx: Any, address: Any, r: Any, weights: Any, arena: Any,
                      state: Any, batch: Any) -> Any:
    """`call_step` for a team helper: an error the step raises is the
    owner's to report (it runs the same step), so the helper ignores it."""
    sig = types.void(types.int64, ROW, FLOATS, FLOATS, FLOATS, types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fnty = context.call_conv.get_function_type(types.void, STEP_ARGS)
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        context.call_conv.call_function(builder, fn, types.void, STEP_ARGS, args[1:])
        return context.get_dummy_value()

    return sig, codegen


def _pointer_to(kind: Any) -> Any:
    @native
    def pointer(typingctx: Any, address: Any) -> Any:
        sig = types.CPointer(kind)(types.int64)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.inttoptr(args[0], context.get_value_type(signature.return_type))
        return sig, codegen
    return pointer


_ints_at = _pointer_to(types.int64)
_floats_at = _pointer_to(types.float32)


@njit(**JIT)
def serve(k: int) -> None:
    """Helper k of layerc's thread team (team.py), in a thread of its own
    until the team stops: it runs the step of each region the owner
    publishes, with the owner's arguments, to take chunks of that region."""
    slot = team.SLOTS + 8 * k
    if k == 0:  # the first helper measures the cycle counter, before it registers
        team.set_rate(team.cycles_per_10ms())
    rate = team.load(team.RATE)  # (`start` starts helper k once k - 1 has registered)
    team.store(slot, team.me())
    seen = team.load(team.GEN)
    while True:
        g = team.wait_region(k, seen, rate)
        if g < 0:
            return
        seen = g
        team.add(team.ACTIVE, 1)
        if team.load(team.GEN) == g:
            ticket = team.load(team.TICKET)
            row, rows, cols = team.load(team.ROW), team.load(team.ROWS), team.load(team.COLS)
            plan = carray(_ints_at(team.load(team.PLAN)), (rows, cols))
            steps = carray(_ints_at(team.load(team.STEPS)), team.load(team.NSTEPS))
            weights = carray(_floats_at(team.load(team.WEIGHTS)), team.load(team.NWEIGHTS))
            arena = carray(_floats_at(team.load(team.ARENA)), team.load(team.NARENA))
            state = carray(_floats_at(team.load(team.STATE_AT)), team.load(team.NSTATE))
            batch = team.load(team.BATCH)
            if team.load(team.GEN) == g and 0 <= row < rows:
                team.store(slot + 3, ticket)
                op = plan[row, OPCODE]
                if 0 < op < steps.size and steps[op] != 0:
                    call_step_quietly(steps[op], plan[row], weights, arena, state, batch)
        seen = team.load(slot + 1)  # the last region it took part in
        team.add(team.ACTIVE, -1)


@njit(**JIT)
def run_rows(plan: np.ndarray, steps: np.ndarray, weights: np.ndarray, arena: np.ndarray,
             state: np.ndarray, batch: int, start: int, stop: int) -> None:
    """Runs plan rows [start, stop), each by its opcode's step (`steps[opcode]`
    is the step's address; the program loaded every step its plan names).
    When the calling thread owns layerc's thread team, it notes each row for
    the regions its step publishes (team.py)."""
    owner = team.load(team.OWNER) == team.me()
    for i in range(start, stop):
        if owner:
            team.at_row(i)
        r = plan[i]
        op = r[OPCODE]
        if op <= 0 or op >= steps.size or steps[op] == 0:
            raise ValueError("layerc: a plan row names an opcode whose step is not loaded")
        call_step(steps[op], r, weights, arena, state, batch)


@njit(**JIT)
def run_model(plan: np.ndarray, steps: np.ndarray, weights: np.ndarray, arena: np.ndarray,
              state: np.ndarray, batch: int, in_offsets: np.ndarray, inputs: tuple,
              out_offsets: np.ndarray, outputs: tuple, threads: int) -> None:
    """Copies the inputs into the arena, runs the plan, copies the outputs out:
    one crossing into native code per predict, on `threads` of layerc's own
    threads (threads.py). `state` holds the states of stateful layers between
    calls. Inputs and outputs are flat (tuples of 1-D arrays, so one compiled
    version serves every shape)."""
    saved = enter()
    owner = team.claim(threads)
    if owner:
        team.stage(plan, steps, weights, arena, state, batch)
    for i in range(len(inputs)):
        x = inputs[i]
        move(arena, in_offsets[i] * batch, x, 0, x.size)
    run_rows(plan, steps, weights, arena, state, batch, 0, plan.shape[0])
    for i in range(len(outputs)):
        y = outputs[i]
        move(y, 0, arena, out_offsets[i] * batch, y.size)
    if owner:
        team.release()
    leave(saved)
