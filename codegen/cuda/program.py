"""A compiled CUDA program: the launch plan, the device weights, and how to run it.

The weights are uploaded once, when the program is built. Each thread keeps
device arenas per batch size (within the bounds of `codegen.base.ThreadArenas`),
so a predict copies only the inputs in and the outputs out; the states of
stateful layers live in a `DeviceState` that stays on the device between calls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from layerc.codegen.base import Lowered, ThreadArenas, lower_program
from layerc.codegen.cuda.emitter import Emitter, Launch
from layerc.codegen.cuda.lower import LOWERINGS
from layerc.codegen.plan_check import Buffers, check_steps
from layerc.ir import Graph


class DeviceState:
    """The states of a model's stateful layers, kept on the device. Reads and
    writes by slice go through the host (states are small, and only the
    runtime's state methods use them); `program.run` uses `.device` in place."""

    def __init__(self, cuda: Any, size: int) -> None:
        self.device = cuda.to_device(np.zeros(max(size, 1), np.float32))
        self._size = size

    @property
    def shape(self) -> tuple[int]:
        return (self._size,)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        host = self.device.copy_to_host()[: self._size]
        return host if dtype is None else host.astype(dtype)

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.asarray(self)[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        host = np.asarray(self)
        host[index] = np.asarray(value, np.float32)
        full = np.zeros(max(self._size, 1), np.float32)
        full[: self._size] = host
        self.device.copy_to_device(full)


@dataclass(eq=False)
class Program(Lowered):
    """CUDA's `codegen.base.Program`: the launches and the weights, uploaded
    to the device when the program is built."""

    launches: tuple[Launch, ...]
    weights_host: np.ndarray
    target: str = "cuda"

    def __post_init__(self) -> None:
        from layerc.codegen.cuda import device, launch

        self._cuda = device.load()
        # The allocator refers to numba.cuda, not to this program: the arenas
        # go with the program, by reference counting alone.
        self.arenas = ThreadArenas(functools.partial(self._cuda.device_array, dtype=np.float32))
        self._launch = launch.run
        self.weights = self._cuda.to_device(self.weights_host)  # uploaded once
        self._no_state = self._cuda.to_device(np.zeros(1, np.float32))

    def new_state(self, size: int) -> DeviceState:
        """A zeroed device buffer for `size` floats of stateful layers' states."""
        return DeviceState(self._cuda, size)

    def _inputs_in(self, xs: list[np.ndarray], batch: int, state: DeviceState | None,
                   arena: Any = None) -> tuple[Any, Any]:
        """`arena` (else this thread's device arena) with the inputs copied in,
        and the device buffer of the states (a placeholder when there are none)."""
        if arena is None:
            arena = self.arenas.get(self.arena_size, batch)
        for slot, x in zip(self.inputs, xs):
            if x.size:
                start = slot.offset * batch
                arena[start: start + x.size].copy_to_device(x.reshape(-1))
        return arena, (self._no_state if state is None else state.device)

    def run(self, xs: list[np.ndarray], batch: int, state: DeviceState | None = None,
            arena: Any = None) -> list[np.ndarray]:
        """Runs one batch; `xs` are C-contiguous float32 arrays of shape
        (batch, *slot.shape). `state` (from `new_state`) is read and updated by
        stateful layers on the device. It runs in the device array `arena` (at
        least arena_size * batch floats), else in this thread's from `arenas`.
        Returns new host arrays."""
        arena, device_state = self._inputs_in(xs, batch, state, arena)
        for launch in self.launches:
            self._launch(launch, arena, self.weights, device_state, batch)
        outs = []
        for slot in self.outputs:
            y = np.empty((batch, *slot.shape), np.float32)
            if y.size:
                start = slot.offset * batch
                arena[start: start + y.size].copy_to_host(y.reshape(-1))
            outs.append(y)
        return outs

    def stepper(self, xs: list[np.ndarray], batch: int,
                state: DeviceState | None = None) -> Callable[[int, int], None]:
        """Copies one batch of inputs into this thread's device arena, as `run`
        does, and returns `run_steps(start, stop)`, which launches kernels
        [start, stop) and waits for the device to finish them (what a profile
        times)."""
        arena, device_state = self._inputs_in(xs, batch, state)

        def run_steps(start: int, stop: int) -> None:
            for launch in self.launches[start:stop]:
                self._launch(launch, arena, self.weights, device_state, batch)
            self._cuda.synchronize()
        return run_steps


def build_program(graph: Graph) -> Program:
    """Lowers every node of a memory-planned graph to kernel launches."""
    from layerc.codegen.cuda import device

    device.load()  # fail early and clearly when CUDA cannot run here
    from layerc.codegen.cuda import ops  # noqa: F401  (registers every lowering and launcher)

    from layerc.codegen.cuda.footprints import footprint

    e = Emitter(graph)
    lowered = lower_program(graph, e, LOWERINGS, "CUDA", "cuda program")
    weights = e.weights()
    assert graph.memory_plan is not None  # lower_program checked
    check_steps(((f"%{s.node}: launch {i}", s.kernel, footprint(s.kernel),
                  SimpleNamespace(**dict(s.operands))) for i, s in enumerate(e.launches)),
                Buffers(graph.memory_plan.arena_size, lowered.arena_size, lowered.state_size,
                        weights.size, None))
    return Program(**lowered.parts(), launches=tuple(e.launches), weights_host=weights)
