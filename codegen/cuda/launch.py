"""How kernels are launched: a registry of launchers by kernel name, each
giving its kernel a grid and its operands scaled by the batch.

An op family declares each kernel's operand fields with `emitter.kernel` and
registers the kernel's launcher with `@launcher(schema)`; a launcher gets
the launch's operands (arena offsets per sample), the device arenas and the
batch size. Importing this module loads numba.cuda and compiles nothing:
Numba compiles each kernel on its first launch, once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from layerc.codegen.cuda.emitter import Launch
from layerc.codegen.cuda.kernels import THREADS
from layerc.codegen.schema import Schema

Launcher = Callable[[dict[str, int], Any, Any, Any, int], None]
LAUNCHERS: dict[str, Launcher] = {}
MAX_BLOCKS = 4096  # the one-dimensional kernels stride over what exceeds it
RNN_THREADS = 256  # per block of the recurrent kernel (one block per sample)


def launcher(schema: Schema) -> Callable[[Launcher], Launcher]:
    def register(fn: Launcher) -> Launcher:
        if schema.name in LAUNCHERS:
            raise ValueError(f"kernel {schema.name} has two launchers")
        LAUNCHERS[schema.name] = fn
        return fn
    return register


def grid(n: int) -> tuple[int, int]:
    """(blocks, threads) for a one-dimensional kernel over n values."""
    threads = min(THREADS, n)
    return min(-(-n // threads), MAX_BLOCKS), threads


def run(launch: Launch, arena: Any, weights: Any, state: Any, batch: int) -> None:
    LAUNCHERS[launch.kernel](dict(launch.operands), arena, weights, state, batch)
