"""A compiled CPU program: the plan, the weight arena, and how to run it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
from numba import types

from layerc.codegen.base import Lowered, ThreadArenas, lower_program
from layerc.codegen.cpu import build, team
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.interpreter import run_model, run_rows, serve
from layerc.codegen.cpu.lower import LOWERINGS
from layerc.codegen.cpu.opcodes import OPCODE
from layerc.codegen.cpu.opcodes import FOOTPRINTS, OPCODES
from layerc.codegen.plan_check import Buffers, Step, check_steps
from layerc.codegen.cpu.threads import enter, leave, resolve
from layerc.ir import Graph

_NO_STATE = np.zeros(1, np.float32)


def _host_arena(floats: int) -> np.ndarray:
    return np.empty(floats, np.float32)


@dataclass(eq=False)
class Program(Lowered):
    """The CPU's `codegen.base.Program`: the plan and the packed weights."""

    plan: np.ndarray
    weights: np.ndarray
    target: str = "cpu"
    threads: int = 1  # layerc's threads while it runs (threads.py)
    arenas: ThreadArenas = field(default_factory=lambda: ThreadArenas(_host_arena), repr=False)

    def __post_init__(self) -> None:
        self._ready = False  # run_model and the plan's steps loaded for this program
        self._in_offsets = np.array([s.offset for s in self.inputs], np.int64)
        self._out_offsets = np.array([s.offset for s in self.outputs], np.int64)

    def new_state(self, size: int) -> np.ndarray:
        """Zeroed storage for `size` floats of stateful layers' states."""
        return np.zeros(size, np.float32)

    def run(self, xs: list[np.ndarray], batch: int, state: np.ndarray | None = None,
            arena: np.ndarray | None = None) -> list[np.ndarray]:
        """Runs one batch; `xs` are C-contiguous float32 arrays of shape
        (batch, *slot.shape). `state` (state_size * batch floats) is read and
        updated by stateful layers. It runs in `arena` (at least arena_size *
        batch floats), else in this thread's from `arenas`. Returns new arrays."""
        outs = [np.empty((batch, *s.shape), np.float32) for s in self.outputs]
        if state is None:
            state = _NO_STATE
        if arena is None:
            arena = self.arenas.get(self.arena_size, batch)
        args = (self.plan, build.TABLE, self.weights, arena, state, batch, self._in_offsets,
                tuple(x.reshape(-1) for x in xs), self._out_offsets,
                tuple(y.reshape(-1) for y in outs), self.threads)
        if not self._ready:
            self._get_ready(build.signature(run_model, args))
            self._ready = True
        if self.threads > 1:
            team.start(self.threads - 1)  # at once if started (again after a fork)
        try:
            run_model(*args)
        except BaseException:
            team.abandon()
            raise
        return outs

    def _get_ready(self, entry: tuple) -> None:
        """Loads (or builds) the plan's steps, the interpreter's `entry`, and
        the team's helper loop when this program runs on several threads."""
        entries = [entry]
        if self.threads > 1:
            entries.append((serve, (types.int64,)))
        build.ready(self.opcodes(), entries)

    def opcodes(self) -> np.ndarray:
        """The opcodes this program's plan runs."""
        return np.unique(self.plan[:, OPCODE])

    def stepper(self, xs: list[np.ndarray], batch: int,
                state: np.ndarray | None = None) -> Callable[[int, int], None]:
        """Copies one batch of inputs into this thread's arena, as `run` does,
        and returns `run_steps(start, stop)`, which runs plan rows [start,
        stop) there on this program's threads, as `run` does: one call into
        native code each (what a profile times)."""
        arena = self.arenas.get(self.arena_size, batch)
        for slot, x in zip(self.inputs, xs):
            start = slot.offset * batch
            arena[start: start + x.size] = x.reshape(-1)
        args = (self.plan, build.TABLE, self.weights, arena,
                _NO_STATE if state is None else state, batch)
        self._get_ready(build.signature(run_rows, (*args, 0, 0)))
        if self.threads > 1:
            team.start(self.threads - 1)

        def run_steps(start: int, stop: int) -> None:
            saved = enter()
            owner = team.claim(self.threads)
            if owner:
                team.stage(*args)
            try:
                run_rows(*args, start, stop)
            finally:
                if owner:
                    team.release()
                leave(saved)
        return run_steps


def build_program(graph: Graph, threads: int | None = None) -> Program:
    """Lowers every node of a memory-planned graph to plan rows, to run on
    `threads` threads (None: LAYERC_NUM_THREADS or the usable cores)."""
    e = Emitter(graph)
    lowered = lower_program(graph, e, LOWERINGS, "CPU", "program")
    plan, weights = e.plan(), e.weights()
    assert graph.memory_plan is not None  # lower_program checked
    check_steps(_steps(plan, lowered.spans), Buffers(
        graph.memory_plan.arena_size, lowered.arena_size, lowered.state_size, weights.size,
        e.stored))
    return Program(**lowered.parts(), plan=plan, weights=weights, threads=resolve(threads))


def _steps(plan: np.ndarray, spans: tuple[tuple[str, int, int], ...]) -> Iterator[Step]:
    """The plan's rows as the plan verifier reads them."""
    nodes = {i: node for node, first, stop in spans for i in range(first, stop)}
    for i, row in enumerate(plan):
        op = OPCODES[int(row[OPCODE])]
        yield (f"%{nodes.get(i, '?')}: plan row {i}", op.name, FOOTPRINTS.get(op.code),
               SimpleNamespace(**dict(zip(op.schema.fields, map(int, row[1:])))))
