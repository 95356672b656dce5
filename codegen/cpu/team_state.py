"""The shared state of layerc's thread team (team.py) and the atomic
operations on it, as LLVM instructions in njit code.

The state is one int64 array (`STATE`) whose address is bound to the symbol
`layerc_team` (as threads.py binds OpenBLAS's), so cached kernels reach it
in any process. Its hot fields sit on cache lines of their own; team.py
says what each means to the owner and to the helpers.
"""

from __future__ import annotations

from typing import Any

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils

from layerc.codegen.cpu.kernels import native

SYMBOL = "layerc_team"
MAX_HELPERS = 63
# fields (int64 indexes); a line (8 fields) per hot one
GEN = 0  # the region's sequence number: even when stable, odd while written
NEXT = 8  # GEN << 32 | the next chunk to take
DONE = 16  # chunks done in the open region
OWNER = 24  # the owning thread's pthread id, 0 when free
ACTIVE = 32  # helpers inside a step
STOP = 40  # 1: helpers return
# the open region (written by the owner under an odd GEN): its plan row (a
# ticket, new for every row the owner runs, and the row's index), its index
# among the row's regions, its chunks, the run's arrays
TICKET, ROW, REGION, CHUNKS = range(48, 52)
PLAN, ROWS, COLS, STEPS, NSTEPS, WEIGHTS, NWEIGHTS = range(52, 59)
ARENA, NARENA, STATE_AT, NSTATE, BATCH = range(59, 64)
TEAM = 64  # threads in the owner's team
HELPERS = 65  # helpers started (each has registered its thread id)
# the owner's own staging: the run's arrays (PLAN..BATCH, as above), the row
STAGE = 72
STAGE_ROW, STAGE_TICKET, OPENED_TICKET, OPENED = range(84, 88)
INSIDE = 88  # 1 while the owner runs chunks of a region it published
HELPED = 96  # chunks helpers have taken (a statistic: tests, diagnostics)
WAKE = 104  # a futex word (its low 32 bits): bumped to wake sleeping helpers
SLEEPERS = 112  # helpers asleep on WAKE, or about to be
SPIN = 120  # microseconds a helper spins after its last region (LAYERC_SPIN_US)
# the owner's wait in `close` (it spins, then sleeps on DONE's low 32 bits)
CLOSER = 128  # 1 while the owner sleeps on DONE
OPENED_AT = 129  # the cycle counter when the owner opened its region
RATE = 130  # cycles the cycle counter counts in 10 ms
SLEPT = 131  # times the owner slept in `close` (a helper lost its core)
# stepping aside (`watch`): the team stands aside while the cores are taken
ALONE_UNTIL = 132  # the cycle counter until which owners run alone
WINDOW_AT, WINDOW_TID, WINDOW_LOST = 133, 134, 135  # the window being watched
STEPPED = 136  # times the team stepped aside (a statistic)
WINDOW, LOST_LIMIT = 137, 138  # the policy: a window's cycles, lost cores in it
ALONE_MIN, ALONE_MAX, ALONE = 139, 140, 141  # cycles alone: first, most, next
OWNER_CPU = 142  # the CPU the owner ran on when it took the team
MOVED = 143  # times a helper moved off the owner's CPU (a statistic)
# a line per helper: its thread id, the region it serves, the regions of
# the row it has passed, the row's ticket, 1 while it runs chunks of one,
# the cycle counter when it last moved off the owner's CPU
SLOTS = 144
SIZE = SLOTS + 8 * MAX_HELPERS

STATE = np.zeros(SIZE, np.int64)
llvm.add_symbol(SYMBOL, STATE.ctypes.data)


def _field(builder: Any, index: Any) -> Any:
    """A pointer to STATE[index] (`layerc_team`, bound at link time)."""
    module = builder.module
    try:
        table = module.get_global(SYMBOL)
    except KeyError:
        table = ir.GlobalVariable(module, ir.ArrayType(ir.IntType(64), SIZE), SYMBOL)
        table.linkage = "external"
    return builder.gep(table, [ir.Constant(ir.IntType(32), 0), index])


@native
def load(typingctx: Any, index: Any) -> Any:
    """STATE[index], read atomically (acquire)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.load_atomic(_field(builder, args[0]), "acquire", 8)
    return types.int64(types.int64), codegen


@native
def store(typingctx: Any, index: Any, value: Any) -> Any:
    """STATE[index] = value, atomically (release)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        builder.store_atomic(args[1], _field(builder, args[0]), "release", 8)
        return context.get_dummy_value()
    return types.void(types.int64, types.int64), codegen


@native
def add(typingctx: Any, index: Any, value: Any) -> Any:
    """STATE[index] += value atomically; returns the old value."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.atomic_rmw("add", _field(builder, args[0]), args[1], "seq_cst")
    return types.int64(types.int64, types.int64), codegen


@native
def swap(typingctx: Any, index: Any, old: Any, new: Any) -> Any:
    """STATE[index] = new if it is old (compare-and-swap); whether it was."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        pair = builder.cmpxchg(_field(builder, args[0]), args[1], args[2], "seq_cst",
                               "seq_cst")
        return builder.extract_value(pair, 1)
    return types.boolean(types.int64, types.int64, types.int64), codegen


@native
def address(typingctx: Any, index: Any) -> Any:
    """The address of STATE[index]."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.ptrtoint(_field(builder, args[0]), ir.IntType(64))
    return types.int64(types.int64), codegen


@native
def fence(typingctx: Any) -> Any:
    """A full memory fence (a store before it is seen before a load after)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        builder.fence("seq_cst")
        return context.get_dummy_value()
    return types.void(), codegen


@native
def pause(typingctx: Any) -> Any:
    """The spin-wait hint (x86 `pause`; nothing elsewhere)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        if "86" in llvm.get_process_triple().split("-")[0]:
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


@native
def cycles(typingctx: Any) -> Any:
    """The processor's cycle counter (rdtsc on x86)."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(64), []), "llvm.readcyclecounter")
        return builder.call(fn, [])
    return types.int64(), codegen
