"""layerc's own thread team: the threads a CPU predict splits its kernels over.

Numba's parallel regions (prange) cost more than a batch-1 layer is worth:
its TBB layer builds a task arena per region and wakes its workers into it,
so a 2-thread region of a batch-1 Dense ran slower than one thread (an MLP's
three layers: 66 us against 58 serial; a spinning team: 39 us; measured
2026-11-30 on the 2-core AMD EPYC VM). ONNX Runtime's pool spins between
regions; so does this team.

How it runs (single program, several threads):
- The thread that calls a predict *owns* the team while it runs (`claim`);
  the team's other threads are *helpers*, started once (`start`), each in a
  Python thread that calls `serve` (interpreter.py) and never returns to
  Python. A second predict from another thread while the team is owned
  runs alone (a team region there is one chunk after another).
- A kernel splits its work into chunks in a *region* (`open_region`, then
  `grab` until it says -1, then `close`). The owner publishes the region: the
  plan row it runs and the run's arrays, under a sequence number (`GEN`,
  even when stable; odd while the owner writes). A helper that sees a new
  region runs that row's step itself, with the same arguments, so it reaches
  the same region with the same chunk count, and takes chunks from the same
  counter. Chunks are taken as threads come free (a compare-and-swap on a
  counter tagged with the region's number), so a helper that is late, or
  whose core is busy elsewhere, leaves its chunks to the owner, and a late
  helper never takes a chunk of another region.
- The owner leaves a region once every chunk is done, so a step's result is
  complete when the step returns. Everything a step writes outside its
  region's chunks is written by the owner only (`lead`): a helper runs a
  step's other code only to reach the region.
- A step may open several regions, one after another: a helper that has
  run one waits in the next (the owner publishes each with its index in
  the row), or leaves the step when the owner has gone past it. A region
  opened inside a chunk runs in the thread that opens it.
- Helpers spin on the sequence number (with `pause`) for SPIN_US (or
  LAYERC_SPIN_US) microseconds after their last region, then sleep on a
  futex until the owner publishes one, so a stream of predicts finds them
  awake and an idle process costs nothing.
- Where other threads take the cores (another process, another pool), a
  thread without a core holds up the rest for a time slice, milliseconds.
  The owner, waiting in `close` for a chunk a helper holds, spins twice a
  chunk's time, then sleeps until it is done, so the helper can run on the
  owner's core. A helper that finds itself on the owner's CPU moves off it
  (`leave_owners_cpu`). And the owner counts the times it lost its core (`watch`):
  while the cores stay taken, it runs alone for a while (the team steps
  aside), since one thread keeps a core where three take turns.

The state and the atomic operations on it: team_state.py; counting lost
cores, stepping aside and moving off the owner's CPU: team_aside.py.
"""

from __future__ import annotations

import atexit
import os
import platform
import sys
import threading
import time
from typing import Any

import numpy as np
from numba import njit, types

from layerc.codegen.cpu.team_state import (  # noqa: F401  (also read as team.X)
    SYMBOL, MAX_HELPERS, GEN, NEXT, DONE, OWNER, ACTIVE, STOP, TICKET, ROW, REGION, CHUNKS,
    PLAN, ROWS, COLS, STEPS, NSTEPS, WEIGHTS, NWEIGHTS, ARENA, NARENA, STATE_AT, NSTATE, BATCH,
    TEAM, HELPERS, STAGE, STAGE_ROW, STAGE_TICKET, OPENED_TICKET, OPENED, INSIDE, HELPED, WAKE,
    SLEEPERS, SPIN, CLOSER, OPENED_AT, RATE, SLEPT, ALONE_UNTIL, WINDOW_AT, WINDOW_TID,
    WINDOW_LOST, STEPPED, WINDOW, LOST_LIMIT, ALONE_MIN, ALONE_MAX, ALONE, OWNER_CPU, MOVED,
    SLOTS, SIZE, STATE, load, store, add, swap, address, fence, pause, cycles)
from layerc.codegen.cpu.team_aside import (  # noqa: F401  (also read as team.X)
    WINDOW_MS, LOST_PER_WINDOW, ALONE_MIN_MS, ALONE_MAX_MS, lost_cores, watch, set_rate,
    note_cpu, leave_owners_cpu, move_off)
from layerc.codegen.cpu.threads import JIT
from layerc.ir import ConfigError

SPIN_ENV = "LAYERC_SPIN_US"
SPIN_US = 200
CLOSE_SPIN_US = 30  # the least the owner spins in `close` before it sleeps
# Sleeping helpers wait on a futex (Linux x86-64 and AArch64: the syscall's
# number), woken when the owner publishes a region; elsewhere they nap
# NAP_US at a time. Naps cost other threads of the process: a helper
# napping 50 us at a time doubled ONNX Runtime's batch-1 MLP (55-71 ->
# 110-138 us, 3 alternating pairs of processes, 2026-11-30).
FUTEX = {"x86_64": 202, "aarch64": 98}.get(platform.machine(), 0) \
    if sys.platform.startswith("linux") else 0
FUTEX_WAIT, FUTEX_WAKE = 128, 129  # the _PRIVATE operations
NAP_US = 1000


# roles (`open_region`): the owner's and a helper's carry the region's number
NONE, SOLO = -1, 0
_OWNER_ROLE, _HELPER_ROLE = 1, 2

_self: Any = types.ExternalFunction("pthread_self", types.uint64())
_yield: Any = types.ExternalFunction("sched_yield", types.intc())
_nap: Any = types.ExternalFunction("usleep", types.intc(types.uintc))
_syscall: Any = types.ExternalFunction("syscall", types.int64(*[types.int64] * 6))


# ----- who the calling thread is -----
@njit(**JIT)
def me() -> int:
    return np.int64(_self())


@njit(**JIT)
def helper_index(tid: int) -> int:
    """The helper the thread `tid` is, else -1."""
    for k in range(load(HELPERS)):
        if load(SLOTS + 8 * k) == tid:
            return k
    return -1


@njit(**JIT)
def lead() -> bool:
    """Whether the calling thread writes a step's results outside its
    regions (it is not a helper)."""
    return helper_index(me()) < 0


@njit(**JIT)
def size() -> int:
    """The threads the calling thread's regions are split for: the team's
    size for its owner and its helpers, 1 for any other thread."""
    tid = me()
    if load(OWNER) == tid or helper_index(tid) >= 0:
        return load(TEAM)
    return 1


# ----- the owner -----
@njit(**JIT)
def claim(threads: int) -> bool:
    """Takes the team for a run on `threads` threads, if it is free and has
    helpers; whether it did (then `release` must follow)."""
    helpers = load(HELPERS)
    if threads <= 1 or helpers == 0 or cycles() < load(ALONE_UNTIL):
        return False
    tid = me()
    if not swap(OWNER, 0, tid):
        return False
    store(TEAM, min(threads, helpers + 1))
    note_cpu()
    return True


@njit(**JIT)
def stage(plan: np.ndarray, steps: np.ndarray, weights: np.ndarray, arena: np.ndarray,
          state: np.ndarray, batch: int) -> None:
    """The owner notes the run's arrays, for the regions it publishes."""
    store(STAGE, plan.ctypes.data)
    store(STAGE + 1, plan.shape[0])
    store(STAGE + 2, plan.shape[1])
    store(STAGE + 3, steps.ctypes.data)
    store(STAGE + 4, steps.size)
    store(STAGE + 5, weights.ctypes.data)
    store(STAGE + 6, weights.size)
    store(STAGE + 7, arena.ctypes.data)
    store(STAGE + 8, arena.size)
    store(STAGE + 9, state.ctypes.data)
    store(STAGE + 10, state.size)
    store(STAGE + 11, batch)


@njit(**JIT)
def at_row(row: int) -> None:
    """The owner starts plan row `row` (a new ticket)."""
    store(STAGE_ROW, row)
    store(STAGE_TICKET, load(STAGE_TICKET) + 1)


@njit(**JIT)
def release() -> None:
    """Ends the owner's run: no helper still reads its arrays afterwards."""
    g = load(GEN)
    store(GEN, g + 1)
    store(TICKET, -1)  # helpers waiting for a later region of the last row stop
    store(GEN, g + 2)  # a helper that has not validated its region yet will not
    spins = 0
    while load(ACTIVE) != 0:
        pause()
        spins += 1
        if spins > 4096:
            _yield()
    watch(me())
    store(TEAM, 1)
    store(OWNER, 0)


# ----- regions -----
@njit(**JIT)
def open_region(chunks: int) -> int:
    """Starts a region of `chunks` chunks; returns the calling thread's role
    in it, for `grab` and `close`: SOLO (all chunks, alone), NONE (none: a
    helper in a region the owner ran, or will run, without it), or the
    region's number with the owner's or a helper's tag. A region of one
    chunk is the caller's alone (the owner publishes none)."""
    tid = me()
    if load(OWNER) == tid:
        if chunks <= 1 or load(INSIDE) != 0:  # a region inside a chunk runs alone
            return SOLO
        ticket = load(STAGE_TICKET)
        index = load(OPENED) if load(OPENED_TICKET) == ticket else 0
        store(OPENED_TICKET, ticket)
        store(OPENED, index + 1)
        g = load(GEN) + 1
        store(GEN, g)  # odd: being written
        store(TICKET, ticket)
        store(REGION, index)
        store(CHUNKS, chunks)
        store(ROW, load(STAGE_ROW))
        for i in range(12):
            store(PLAN + i, load(STAGE + i))
        store(DONE, 0)
        store(OPENED_AT, cycles())
        store(NEXT, (g + 1) << 32)
        store(GEN, g + 1)
        store(INSIDE, 1)
        fence()  # GEN is seen before SLEEPERS is read (`sleep`)
        if load(SLEEPERS) > 0:
            add(WAKE, 1)
            if FUTEX:
                _syscall(FUTEX, address(WAKE), FUTEX_WAKE, MAX_HELPERS, 0, 0)
        return ((g + 1) << 2) | _OWNER_ROLE
    k = helper_index(tid)
    if k < 0:
        return SOLO
    slot = SLOTS + 8 * k
    if load(slot + 4) != 0:
        return SOLO
    if chunks <= 1:
        return NONE
    index = load(slot + 2)
    store(slot + 2, index + 1)
    mine = load(slot + 3)
    while load(STOP) == 0:  # until the owner opens this region, or has gone past it
        g = load(GEN)
        if g & 1:
            pause()
            continue
        ticket, region, size = load(TICKET), load(REGION), load(CHUNKS)
        if load(GEN) != g:
            continue
        if ticket != mine or region > index:
            return NONE
        if region == index:
            if size != chunks:
                return NONE
            store(slot + 1, g)
            store(slot + 4, 1)
            return (g << 2) | _HELPER_ROLE
        pause()
    return NONE


@njit(**JIT)
def grab(role: int, chunks: int, done: int) -> int:
    """The caller's next chunk, -1 when none is left; `done`: the chunk the
    caller has just finished, -1 at the start. A region runs as

        role = open_region(chunks)
        ci = grab(role, chunks, -1)
        while ci >= 0:
            ...chunk ci...
            ci = grab(role, chunks, ci)
        close(role, chunks)
    """
    if role == SOLO:
        return done + 1 if done + 1 < chunks else -1
    if role == NONE:
        return -1
    if done >= 0:
        last = add(DONE, 1) + 1 == chunks
        if FUTEX and last and load(CLOSER) != 0:  # the owner sleeps in `close`
            _syscall(FUTEX, address(DONE), FUTEX_WAKE, 1, 0, 0)
    g = role >> 2
    while True:
        v = load(NEXT)
        if (v >> 32) != g:
            return -1
        c = v & 0xFFFFFFFF
        if c >= chunks:
            return -1
        if swap(NEXT, v, v + 1):
            if (role & 3) == _HELPER_ROLE:
                add(HELPED, 1)
            return c


@njit(**JIT)
def close(role: int, chunks: int) -> None:
    """Ends the caller's part in a region; the owner waits until every chunk
    of its region is done."""
    if role <= 0:
        return
    if (role & 3) == _HELPER_ROLE:
        store(SLOTS + 8 * helper_index(me()) + 4, 0)
        return
    store(INSIDE, 0)
    # The helpers' last chunks end within a chunk's time, unless a helper has
    # lost its core to another thread: the owner spins twice a chunk's time
    # (as the region's chunks have taken so far), then sleeps on DONE, which
    # frees its core for the helper (the scheduler moves a waiting thread to
    # an idle core at once; a spinning owner would keep it waiting for a
    # time slice, milliseconds).
    now = cycles()
    done = load(DONE)
    if done >= chunks:
        return
    limit = max(2 * (now - load(OPENED_AT)) * load(TEAM) // max(done, 1),
                CLOSE_SPIN_US * load(RATE) // 10_000)
    spins, slept = 0, False
    while load(DONE) < chunks:
        if not FUTEX or cycles() - now < limit:
            pause()
            spins += 1
            if spins > 4096 and not FUTEX:
                _yield()
            continue
        store(CLOSER, 1)
        fence()  # CLOSER is seen before DONE is read (helpers: `grab`)
        done = load(DONE)
        if done < chunks:
            if not slept:
                add(SLEPT, 1)
                slept = True
            _syscall(FUTEX, address(DONE), FUTEX_WAIT, done & 0xFFFFFFFF, 0, 0)
        store(CLOSER, 0)


# ----- helpers -----
@njit(**JIT)
def cycles_per_10ms() -> int:
    """The cycle counter's rate, over a 10 ms nap."""
    start = cycles()
    _nap(10_000)
    return cycles() - start


@njit(**JIT)
def wait_region(k: int, seen: int, rate: int) -> int:
    """Helper k waits for a region after `seen` (spinning SPIN microseconds,
    the cycle counter running `rate` cycles in 10 ms, then sleeping);
    returns its number, or -1 when the helpers are stopped."""
    slot = SLOTS + 8 * k
    spin = load(SPIN) * rate // 10_000
    start = cycles()
    while True:
        g = load(GEN)
        if load(STOP) != 0:
            return -1
        if g != seen and (g & 1) == 0 and k + 1 < load(TEAM):
            if (load(NEXT) >> 32) == g:
                store(slot + 1, g)
                store(slot + 2, 0)
                store(slot + 4, 0)
                leave_owners_cpu(slot, rate)
                return g
        if cycles() - start < spin:
            pause()
        else:
            sleep(g)
            start = cycles()


@njit(**JIT)
def sleep(g: int) -> None:
    """A helper sleeps until the owner publishes a region (GEN moves from g).
    It counts itself in SLEEPERS before it looks at GEN once more, and the
    owner reads SLEEPERS after it moves GEN, so one of them sees the other:
    either the helper does not sleep, or the owner wakes it."""
    word = load(WAKE)
    add(SLEEPERS, 1)
    if load(GEN) == g and load(STOP) == 0:
        if FUTEX:
            _syscall(FUTEX, address(WAKE), FUTEX_WAIT, word & 0xFFFFFFFF, 0, 0)
        else:
            _nap(NAP_US)
    add(SLEEPERS, -1)


_lock = threading.Lock()
_threads: list[threading.Thread] = []


def start(helpers: int) -> None:
    """Starts helpers until there are `helpers` (at most MAX_HELPERS)."""
    if len(_threads) >= helpers:
        return
    helpers = min(helpers, MAX_HELPERS)
    from layerc.codegen.cpu.interpreter import serve  # it runs steps
    STATE[SPIN] = spin_us()
    with _lock:
        while len(_threads) < helpers:
            k = len(_threads)
            thread = threading.Thread(target=serve, args=(k,), name=f"layerc-team-{k}",
                                      daemon=True)
            thread.start()
            while not STATE[SLOTS + 8 * k]:
                time.sleep(1e-4)
            _threads.append(thread)
            STATE[HELPERS] = len(_threads)


def spin_us() -> int:
    """How long idle helpers spin before they sleep: LAYERC_SPIN_US, else
    SPIN_US (0: they sleep at once, as ONNX Runtime's allow_spinning=0)."""
    value = os.environ.get(SPIN_ENV, "").strip()
    if not value:
        return SPIN_US
    try:
        us = int(value)
    except ValueError:
        us = -1
    if not 0 <= us <= 1_000_000:
        raise ConfigError(f"{SPIN_ENV}: expected microseconds from 0 to 1000000, got {value!r}")
    return us


def stop() -> None:
    """Spinning helpers return to Python (at exit; sleeping ones sleep on)."""
    STATE[STOP] = 1


def abandon() -> None:
    """After a run that raised (its `release` never ran): frees the team if
    the calling thread owns it, once no helper is inside a step."""
    if STATE[OWNER] != threading.get_ident():  # pthread_self, as `me` reads it
        return
    STATE[GEN] += 1
    STATE[TICKET] = -1
    STATE[GEN] += 1
    while STATE[ACTIVE]:
        time.sleep(1e-5)
    STATE[TEAM] = 1
    STATE[INSIDE] = 0
    STATE[OWNER] = 0


def _forget() -> None:
    """In a forked child: its parent's helpers are not here."""
    _threads.clear()
    STATE[:] = 0


atexit.register(stop)
os.register_at_fork(after_in_child=_forget)
