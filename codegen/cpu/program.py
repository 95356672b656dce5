"""A compiled CPU program: the plan, the weight arena, and how to run it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from layerc.codegen.base import (Slot, ThreadArenas, io_slots, lower_all, program_key,
                                 program_text)
from layerc.codegen.cpu import (lower_core, lower_merge, lower_recurrent,  # noqa: F401
                                lower_spatial)
from layerc.codegen.cpu.cache import load_cached
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.interpreter import run_model
from layerc.codegen.cpu.lower import LOWERINGS
from layerc.ir import Graph

_NO_STATE = np.zeros(1, np.float32)


@dataclass(eq=False)
class Program:
    plan: np.ndarray
    weights: np.ndarray
    arena_size: int  # floats per sample
    inputs: tuple[Slot, ...]
    outputs: tuple[Slot, ...]
    text: str
    state_size: int = 0  # floats per sample of stateful layers' states
    state_slots: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    _arenas: ThreadArenas = field(
        default_factory=lambda: ThreadArenas(lambda n: np.empty(n, np.float32)), repr=False)

    @property
    def key(self) -> str:
        return program_key(self.text)

    def new_state(self, size: int) -> np.ndarray:
        """Zeroed storage for `size` floats of stateful layers' states."""
        return np.zeros(size, np.float32)

    def run(self, xs: list[np.ndarray], batch: int,
            state: np.ndarray | None = None) -> list[np.ndarray]:
        """Runs one batch; `xs` are C-contiguous float32 arrays of shape
        (batch, *slot.shape). `state` (state_size * batch floats) is read and
        updated by stateful layers. Returns new arrays."""
        outs = [np.empty((batch, *s.shape), np.float32) for s in self.outputs]
        if state is None:
            state = _NO_STATE
        arena = self._arenas.get(self.arena_size, batch)
        args = (self.plan, self.weights, arena, state, batch, self._in_offsets,
                tuple(x.reshape(-1) for x in xs), self._out_offsets,
                tuple(y.reshape(-1) for y in outs))
        if not self._ready:
            load_cached(run_model, args)
            self._ready = True
        run_model(*args)
        return outs

    def __post_init__(self) -> None:
        self._ready = False  # run_model loaded for this program's inputs and outputs
        self._in_offsets = np.array([s.offset for s in self.inputs], np.int64)
        self._out_offsets = np.array([s.offset for s in self.outputs], np.int64)


def build_program(graph: Graph) -> Program:
    """Lowers every node of a memory-planned graph to plan rows."""
    e = Emitter(graph)
    lower_all(graph, e, LOWERINGS, "CPU")
    inputs, outputs = io_slots(graph, e)
    text = program_text("program", graph, e, inputs, outputs)
    arena = graph.memory_plan.arena_size + e.scratch_size  # type: ignore[union-attr]
    return Program(e.plan(), e.weights(), arena, inputs, outputs, text, e.state_size,
                   dict(e.state_slots))
