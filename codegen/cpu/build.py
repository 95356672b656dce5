"""The CPU kernel library's build, a kernel at a time.

Each opcode's step (the njit function that runs its plan rows) is loaded from
the cache, or compiled into it, the first time a program needs it; the
interpreter then calls it by its address (interpreter.py). So a model's first
run waits only for its own kernels: an MLP's for the Dense kernel, not for the
recurrent or convolution ones. `warm_up` builds them all (`layerc warmup`).

A step takes 0.5-50 s to compile on 2 cores, so a build that compiles says so
on stderr (`Progress`): which kernel group and step, how many of how many, the
seconds so far and an estimate of what is left.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import numpy as np
from numba import types

from layerc.codegen.cpu import ops  # noqa: F401  (registers every opcode and its step)
from layerc.codegen.cpu.cache import library_path, load_signature
from layerc.codegen.cpu.interpreter import FLOATS, STEP_ARGS, run_model, run_rows, serve
from layerc.codegen.cpu.opcodes import OPCODES, STEPS
from layerc.ir import TargetError

# Seconds each step took to compile with an empty cache on a 2-core AMD EPYC
# (AVX2) VM, by opcode name (`warm_up(times=...)`, 2026-11-30; code several
# steps share, the GEMM's, counts in each that uses it first in that order,
# and the Dense's is its time alone, as an MLP's first run builds it: 37 s
# of which 33 are the GEMM). They weigh the estimate, which scales them by
# how fast this machine builds; a step not listed counts as DEFAULT_COST.
COSTS: dict[str, float] = {
    "rectify": 0.8, "softmax_axis": 0.7, "glu": 0.2, "attention": 30.5, "grouped_conv": 30.1,
    "separable_conv": 24.8, "conv": 36.5, "conv_transpose": 6.8, "dense": 37.0, "act": 1.7,
    "copy": 0.1, "transpose_cs": 0.7, "masking": 0.5, "gather": 2.7, "local": 7.5, "binary": 2.0,
    "scale": 0.4, "concat": 1.2, "dot": 0.4, "masked_binary": 0.6, "scale_shift": 5.0,
    "moments": 7.5, "pool": 6.4, "global_pool": 2.5, "recurrent": 32.1, "repeat": 0.5,
    "strided": 2.3, "image_resize": 4.8}
DEFAULT_COST = 5.0
INTERPRETER_COST = 1.0
# The estimate's pace starts at 1 (this machine builds as fast as the one
# COSTS were measured on) as if that had been seen for PRIOR seconds, so one
# quick kernel does not swing it.
PRIOR = 20.0

# opcode -> its step's address, 0 until loaded; entries are set once, never changed
TABLE = np.zeros(max(OPCODES) + 1, np.int64)
_LOCK = threading.RLock()


def ready(codes: Iterable[int], entries: Iterable[tuple[Any, tuple]] = (),
          progress: bool | None = None, times: Callable[[str, float], None] | None = None
          ) -> int:
    """Loads the steps of opcodes `codes` and the interpreter's `entries`
    (`run_model` or `run_rows` with the types of their arguments) from the
    cache, compiles what it lacks (one progress line for all), and records
    the steps' addresses in TABLE; returns how many it compiled.
    `times(name, seconds)` hears each compile's time."""
    wanted = sorted({int(c) for c in codes})
    unknown = [c for c in wanted if c not in STEPS]
    if unknown:
        raise TargetError(f"a plan names opcode(s) {', '.join(map(str, unknown))}, which this "
                          f"layerc's CPU kernel library does not have (it has 1-{max(STEPS)})")
    entries = list(entries)
    if all(TABLE[c] for c in wanted) and not entries:
        return 0
    with _LOCK:
        steps = [c for c in wanted if not TABLE[c] and not load_signature(STEPS[c], STEP_ARGS)]
        calls = [(d, sig) for d, sig in entries if not load_signature(d, sig)]
        stages = [(_group(c), OPCODES[c].name, COSTS.get(OPCODES[c].name, DEFAULT_COST))
                  for c in steps]
        stages += [("interpreter", d.__name__, INTERPRETER_COST) for d, _ in calls]
        if stages:
            jobs = [(STEPS[c], STEP_ARGS) for c in steps] + calls
            with Progress.for_build(stages, progress) as shown:
                for (dispatcher, signature), (_, name, _) in zip(jobs, stages):
                    with shown.stage() as took:
                        dispatcher.compile(signature)
                    if times:
                        times(name, took())
        for c in wanted:
            if not TABLE[c]:
                result = STEPS[c].overloads[STEP_ARGS]  # type: ignore[attr-defined]
                TABLE[c] = result.library.get_pointer_to_function(result.fndesc.llvm_func_name)
            if not TABLE[c]:
                raise TargetError(f"the CPU kernel of opcode {OPCODES[c].name} has no address")
        return len(stages)


def signature(dispatcher: Any, args: tuple) -> tuple[Any, tuple]:
    """An interpreter entry for `ready`: `dispatcher` for the types of `args`."""
    return dispatcher, tuple(dispatcher.typeof_pyval(a) for a in args)


def warm_up(progress: bool | None = True, times: Callable[[str, float], None] | None = None
            ) -> int:
    """Builds every step, the interpreter for models of up to two inputs
    and outputs, and the thread team's helper loop; returns how many it had
    to compile (0: all were cached)."""
    ints, plan = types.Array(types.int64, 1, "C"), types.Array(types.int64, 2, "C")
    entries: list[tuple[Any, tuple]] = [
        (run_model, (plan, ints, FLOATS, FLOATS, FLOATS, types.int64, ints,
                     types.UniTuple(FLOATS, n_in), ints, types.UniTuple(FLOATS, n_out),
                     types.int64))
        for n_in in (1, 2) for n_out in (1, 2)]
    entries.append((run_rows, (plan, ints, FLOATS, FLOATS, FLOATS, types.int64, types.int64,
                               types.int64)))
    entries.append((serve, (types.int64,)))
    return ready(STEPS, entries, progress, times)


def _group(code: int) -> str:
    """A step's kernel group: the op family's file (`conv`, `recurrent`...)."""
    return STEPS[code].py_func.__module__.rsplit(".", 1)[-1]  # type: ignore[attr-defined]


class Progress:
    """The progress of a build on stderr: the kernel group and step, how many
    of how many, the seconds so far and an estimate of what is left, from
    each stage's expected cost scaled by how fast the finished ones went
    (COSTS, PRIOR).

    Shown when stderr is a terminal (the line rewritten every second, so a
    build is never silent for longer), or when asked (`LAYERC_PROGRESS=1`,
    `layerc warmup`: a line per stage and one every 10 s); `LAYERC_PROGRESS=0`
    hides it."""

    def __init__(self, stages: list[tuple[str, str, float]], stream: TextIO | None) -> None:
        self.stages, self.stream = stages, stream
        self.done = 0
        self.done_cost = self.done_seconds = 0.0
        self.start = self.stage_start = time.perf_counter()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    @classmethod
    @contextmanager
    def for_build(cls, stages: list[tuple[str, str, float]], shown: bool | None = None
                  ) -> Iterator[Progress]:
        progress = cls(stages, sys.stderr if _shown(shown) else None)
        if progress.stream is not None:
            progress._say(f"layerc: building {len(stages)} CPU kernel(s) that are not in the "
                          f"cache yet (once per machine and layerc version; `layerc warmup` "
                          f"builds them all)", end="\n")
            interval = 1.0 if progress.stream.isatty() else 10.0
            progress._ticker = threading.Thread(target=progress._tick, args=(interval,),
                                                daemon=True)
            progress._ticker.start()
        finished = False
        try:
            yield progress
            finished = True
        finally:
            progress._stop.set()
            if progress._ticker is not None:
                progress._ticker.join()
                seconds = time.perf_counter() - progress.start
                done = "built" if finished else "stopped, having built"
                progress._say(f"layerc: {done} {progress.done} CPU kernel(s) in {seconds:.0f} s, "
                              f"cached in {library_path()}", end="\n")

    @contextmanager
    def stage(self) -> Iterator[Callable[[], float]]:
        """The next stage runs inside; yields a function giving its seconds."""
        self.stage_start = time.perf_counter()
        self._line(newline=self.stream is not None and not self.stream.isatty())
        took = 0.0
        try:
            yield lambda: took
        finally:
            took = time.perf_counter() - self.stage_start
            self.done_seconds += took
            self.done_cost += self.stages[self.done][2]
            self.done += 1

    def left(self) -> float:
        """Seconds the build still needs, by the stages' costs and the pace so far."""
        pace = (self.done_seconds + PRIOR) / (self.done_cost + PRIOR)
        if self.done >= len(self.stages):
            return 0.0
        now, cost = time.perf_counter() - self.stage_start, self.stages[self.done][2]
        if now > cost * pace:  # the running stage is slower than expected: it counts too
            pace = (self.done_seconds + now + PRIOR) / (self.done_cost + cost + PRIOR)
        current = max(cost * pace - now, 0.0)
        return current + sum(cost for *_, cost in self.stages[self.done + 1:]) * pace

    def _line(self, newline: bool = False) -> None:
        if self.stream is None or self.done >= len(self.stages):
            return
        group, name, _ = self.stages[self.done]
        elapsed = time.perf_counter() - self.start
        self._say(f"layerc: [{self.done + 1}/{len(self.stages)}] {group}: {name}, "
                  f"{elapsed:.0f} s so far, about {self.left():.0f} s left",
                  end="\n" if newline else "")

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._line(newline=interval > 1.0)

    def _say(self, text: str, end: str) -> None:
        assert self.stream is not None
        if self.stream.isatty():
            text = f"\r{text}\x1b[K"
        self.stream.write(text + end)
        self.stream.flush()


def _shown(asked: bool | None) -> bool:
    setting = os.environ.get("LAYERC_PROGRESS", "")
    if setting in ("0", "1"):
        return setting == "1"
    return asked if asked is not None else sys.stderr.isatty()
