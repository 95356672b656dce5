"""The thread team (team.py) when other threads take the cores: another
process, or another library's thread pool, spinning on them.

Three threads spinning on two cores take turns in time slices of
milliseconds, and a team thread without a core holds up the others for one
(measured on the 2-core AMD EPYC VM, 2026-11-30, with a process spinning on
one core: the owner lost its core about once a run, 336 involuntary context
switches in 300 runs of the MLP at batch 64). Besides the owner's sleep in
`close` (team.py), two things here:
- `watch`: the owner counts the times it lost its core, and stands the team
  aside for a while when that keeps happening; alone, it keeps a core.
- `leave_owners_cpu`: a helper on the owner's CPU moves off it. The
  scheduler left owner and helper on one CPU for hundreds of milliseconds
  after the busy process stopped, so even quiet runs took one thread's time.
Linux only (getrusage's per-thread counts, sched_getcpu, sched_setaffinity);
elsewhere these do nothing.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numba import njit, types

from layerc.codegen.cpu.team_state import (
    RATE, SLEPT, ALONE_UNTIL, WINDOW_AT, WINDOW_TID, WINDOW_LOST, STEPPED, WINDOW, LOST_LIMIT,
    ALONE_MIN, ALONE_MAX, ALONE, OWNER_CPU, MOVED, load, store, add, cycles)
from layerc.codegen.cpu.threads import JIT

LINUX = sys.platform.startswith("linux")

# Stepping aside (`watch`): over a window of WINDOW_MS, the owner counts the
# times it lost its core (involuntary context switches) and slept in `close`
# for a helper that lost its core; at LOST_PER_WINDOW or more, owners run
# alone for a while: ALONE_MIN_MS, doubled after each window that finds the
# cores still taken, up to ALONE_MAX_MS, and back to ALONE_MIN_MS after a
# window that does not (a burst of another pool's spinning costs a few ms
# alone; a process that keeps a core busy, a probe every ALONE_MAX_MS).
WINDOW_MS, LOST_PER_WINDOW, ALONE_MIN_MS, ALONE_MAX_MS = 5, 2, 5, 40
RUSAGE_THREAD, RUSAGE_FIELDS, NIVCSW = 1, 18, 17  # Linux's struct rusage, as int64s
CPU_WORDS = 16  # a cpu_set_t: 1024 CPUs, in uint64 words

_getrusage: Any = types.ExternalFunction("getrusage", types.intc(types.intc, types.int64))
_getcpu: Any = types.ExternalFunction("sched_getcpu", types.intc())
_getaffinity: Any = types.ExternalFunction("sched_getaffinity",
                                           types.intc(types.intc, types.int64, types.int64))
_setaffinity: Any = types.ExternalFunction("sched_setaffinity",
                                           types.intc(types.intc, types.int64, types.int64))


@njit(**JIT)
def set_rate(rate: int) -> None:
    """The first helper, before it registers: the cycle counter's rate, and
    the stepping-aside policy in cycles. (Not called from Python: a call
    into a Numba function from Python loads all of Numba's registries.)"""
    store(RATE, rate)
    store(WINDOW, WINDOW_MS * rate // 10)
    store(LOST_LIMIT, LOST_PER_WINDOW)
    store(ALONE_MIN, ALONE_MIN_MS * rate // 10)
    store(ALONE_MAX, ALONE_MAX_MS * rate // 10)


@njit(**JIT)
def lost_cores() -> int:
    """The times the calling thread lost its core to another (involuntary
    context switches, Linux), 0 where that is not known."""
    if not LINUX:
        return 0
    usage = np.zeros(RUSAGE_FIELDS, np.int64)
    if _getrusage(RUSAGE_THREAD, usage.ctypes.data) != 0:
        return 0
    return usage[NIVCSW]


@njit(**JIT)
def watch(tid: int) -> None:
    """The owner `tid`, at the end of a run: once a window has passed, the
    team steps aside (for ALONE cycles, doubled each time up to ALONE_MAX)
    if the owner lost its core, or slept in `close` for a helper that lost
    its, LOST_LIMIT times or more in it; a window with fewer resets ALONE.
    Three threads spinning on two cores (the team and another process) take
    turns in time slices of milliseconds; alone, the owner keeps a core."""
    now = cycles()
    window = load(WINDOW)
    if window <= 0:
        return
    at, same = load(WINDOW_AT), load(WINDOW_TID) == tid
    if same and now - at < window:
        return
    lost = lost_cores() + load(SLEPT)
    if same and now - at < 4 * window:
        if lost - load(WINDOW_LOST) >= load(LOST_LIMIT):
            alone = max(load(ALONE), load(ALONE_MIN))
            store(ALONE_UNTIL, now + alone)
            store(ALONE, min(2 * alone, load(ALONE_MAX)))
            store(WINDOW_TID, 0)
            add(STEPPED, 1)
            return
        store(ALONE, load(ALONE_MIN))
    # a new window (also for another owner, or after a pause in the runs)
    store(WINDOW_TID, tid)
    store(WINDOW_AT, now)
    store(WINDOW_LOST, lost)


@njit(**JIT)
def note_cpu() -> None:
    """The owner, as it takes the team: the CPU it runs on, for its helpers."""
    if LINUX:
        store(OWNER_CPU, _getcpu())


@njit(**JIT)
def leave_owners_cpu(slot: int, rate: int) -> None:
    """A helper (its line of the state at `slot`) that picks up a region on
    the owner's CPU moves off it: on one CPU the two take turns in time
    slices. At most once a millisecond (`rate`: cycles in 10 ms)."""
    if LINUX and _getcpu() == load(OWNER_CPU) and cycles() - load(slot + 5) > rate // 10:
        store(slot + 5, cycles())
        if move_off(load(OWNER_CPU)):
            add(MOVED, 1)


@njit(**JIT)
def move_off(cpu: int) -> bool:
    """The calling thread moves off `cpu` to another CPU it may run on
    (Linux): it drops `cpu` from its affinity, which moves it at once, and
    takes its affinity back. Whether it moved."""
    mask, others = np.zeros(CPU_WORDS, np.uint64), np.zeros(CPU_WORDS, np.uint64)
    if not 0 <= cpu < 64 * CPU_WORDS or _getaffinity(0, 8 * CPU_WORDS, mask.ctypes.data) != 0:
        return False
    bit, left = np.uint64(1) << np.uint64(cpu % 64), False
    for w in range(CPU_WORDS):  # (loops: light loads skip Numba's array methods)
        others[w] = mask[w] & ~bit if w == cpu // 64 else mask[w]
        left = left or others[w] != 0
    if not left or _setaffinity(0, 8 * CPU_WORDS, others.ctypes.data) != 0:
        return False
    _setaffinity(0, 8 * CPU_WORDS, mask.ctypes.data)
    return True
