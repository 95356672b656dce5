"""Who runs on the cores while a CPU program runs: layerc's own thread team.
Import this module before any kernel is decorated (kernels.py does).

Two thread pools spinning on the same cores cost 3x-75x (NUMBA_NOTES.md: a
Numba parallel region next to a multi-threaded OpenBLAS call). So while a
predict runs, layerc owns the cores: its kernels split work over its own
thread team (team.py) of `threads` threads, and every BLAS call (np.dot in a
kernel) runs in the thread that makes it, OpenBLAS limited to one thread.
`run_model` sets it on entry and restores it on exit (`enter`/`leave`, a few
nanoseconds: calls into native code, not Python). No kernel uses Numba's
parallel regions, so Numba's own pool never starts.

The thread count is `compile(..., threads=N)`, else `LAYERC_NUM_THREADS`,
else the cores this process may run on (its CPU affinity), never more than
the machine has.

The BLAS behind np.dot in Numba code is SciPy's OpenBLAS. Its thread-count
functions are bound by symbol name, so cached kernels stay valid across
processes; a SciPy built on another BLAS gets no-op stand-ins (and its own
threading), which `BLAS_CONTROLLED` reports.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterator
from typing import Any

import llvmlite.binding as llvm
import scipy
from numba import cfunc, njit, types

from layerc.codegen.cpu import cache  # noqa: F401  (before any @njit: the cache locator)
from layerc.ir import ConfigError

ENV = "LAYERC_NUM_THREADS"
MAX_THREADS = 64  # the team's owner and at most 63 helpers (team.py)
JIT: dict[str, Any] = dict(cache=True, nogil=True)
_BLAS_SET, _BLAS_GET = "scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"


def _bind_blas() -> bool:
    """Makes the two OpenBLAS symbols resolvable; stand-ins when SciPy's BLAS
    is not its bundled OpenBLAS (compiled only then: a cfunc compiles at once,
    loading Numba's registries, which a cached library never needs)."""
    libs = os.path.join(os.path.dirname(scipy.__file__), os.pardir, "scipy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "libscipy_openblas*"))):
        llvm.load_library_permanently(path)
        if llvm.address_of_symbol(_BLAS_SET) and llvm.address_of_symbol(_BLAS_GET):
            return True

    @cfunc(types.void(types.intc))
    def noop_set(n):  # pragma: no cover - only without SciPy's OpenBLAS
        pass

    @cfunc(types.intc())
    def noop_get():  # pragma: no cover - only without SciPy's OpenBLAS
        return 1

    llvm.add_symbol(_BLAS_SET, noop_set.address)
    llvm.add_symbol(_BLAS_GET, noop_get.address)
    _STAND_INS.extend((noop_set, noop_get))  # kept alive with their code
    return False


_STAND_INS: list[Any] = []
BLAS_CONTROLLED = _bind_blas()
_set_blas: Any = types.ExternalFunction(_BLAS_SET, types.void(types.intc))
_get_blas: Any = types.ExternalFunction(_BLAS_GET, types.intc())


@njit(**JIT)
def enter() -> int:
    """Takes the cores for a run: OpenBLAS at one thread. Returns what
    `leave` restores."""
    saved = _get_blas()
    if saved != 1:
        _set_blas(1)
    return saved


@njit(**JIT)
def leave(saved: int) -> None:
    if saved != 1:
        _set_blas(saved)


@njit(**JIT)
def _blas_at(threads: int) -> int:
    """Sets OpenBLAS's thread count; returns the one it had."""
    was = _get_blas()
    _set_blas(threads)
    return was


@contextlib.contextmanager
def blas_threads(threads: int) -> Iterator[None]:
    """OpenBLAS at `threads` threads inside the block (the profile's sgemm
    peak measures with layerc's count); a no-op without SciPy's OpenBLAS."""
    was = _blas_at(threads)
    try:
        yield
    finally:
        _blas_at(was)


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve(threads: int | None) -> int:
    """The thread count a CPU program runs with: `threads`, else
    LAYERC_NUM_THREADS, else the usable cores (at most the machine's)."""
    most = machine_cores()
    if threads is None:
        env = os.environ.get(ENV)
        if env is None or not env.strip():
            return max(1, min(usable_cores(), most))
        try:
            threads = int(env)
        except ValueError:
            raise ConfigError(f"{ENV}: expected a positive integer, got {env!r}") from None
        where = ENV
    else:
        where = "threads"
        if isinstance(threads, bool) or not isinstance(threads, int):
            raise ConfigError(f"threads: expected a positive int, got {threads!r}")
    if threads < 1:
        raise ConfigError(f"{where}: expected a positive integer, got {threads}")
    if threads > most:
        raise ConfigError(f"{where}={threads}: this machine has {most} CPU(s); ask for at "
                          f"most {most} threads (more would only take turns on them)")
    return threads


def machine_cores() -> int:
    """The CPUs of this machine (at most the team's size: team.py)."""
    return min(os.cpu_count() or 1, MAX_THREADS)
