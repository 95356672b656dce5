"""Who runs on the cores while a CPU program runs: layerc's own thread pool.
Import this module before any kernel is decorated (kernels.py does).

Two thread pools spinning on the same cores cost 3x-75x (NUMBA_NOTES.md: a
Numba parallel region next to a multi-threaded OpenBLAS call). So while a
predict runs, layerc owns the cores: its kernels split work over Numba's
pool with `threads` threads, and every BLAS call (np.dot in a kernel) runs in
the thread that makes it, OpenBLAS limited to one thread. `run_model` sets
both on entry and restores both on exit (`enter`/`leave`, a few nanoseconds:
they are calls into native code, not Python).

The thread count is `compile(..., threads=N)`, else `LAYERC_NUM_THREADS`,
else the cores this process may run on (its CPU affinity), never more than
the Numba pool has (NUMBA_NUM_THREADS).

The pool is Numba's, on Intel TBB where it can load (the `tbb` wheel puts
libtbb in the environment's lib folder, off the loader's path: this loads
it first). TBB's threads steal work, and the thread that starts a parallel
region works through it too, so a core that another process keeps busy
slows a region down instead of stalling it: with GNU OpenMP, Numba's other
layer, every region waits for every thread of the team, and with one core
busy a 2-thread region took ~8 ms whatever its size (measured 2026-11-29).
NUMBA_THREADING_LAYER, when set, still decides.

The BLAS behind np.dot in Numba code is SciPy's OpenBLAS. Its thread-count
functions are bound by symbol name, so cached kernels stay valid across
processes; a SciPy built on another BLAS gets no-op stand-ins (and its own
threading), which `BLAS_CONTROLLED` reports.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import site
import sys
from collections.abc import Iterator
from typing import Any

import llvmlite.binding as llvm
import numba
import scipy
from numba import cfunc, njit, types

from layerc.codegen.cpu import cache  # noqa: F401  (before any @njit: the cache locator)
from layerc.ir import ConfigError

ENV = "LAYERC_NUM_THREADS"
JIT: dict[str, Any] = dict(cache=True, nogil=True)


def _preload_tbb() -> None:
    """Loads libtbb from where pip installs it, so Numba's TBB layer can."""
    prefixes = (sys.prefix, sys.base_prefix, site.USER_BASE)
    folders = {os.path.join(p, "lib") for p in prefixes if p}
    for folder in sorted(folders):
        path = os.path.join(folder, "libtbb.so.12")
        if os.path.isfile(path):
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            except OSError:
                continue
            return


_preload_tbb()
# Starting the pool registers the symbols below (and code loaded from Numba's
# cache that has a parallel region crashes unless the pool is up).
numba.get_num_threads()
_set_pool: Any = types.ExternalFunction("set_num_threads", types.void(types.intc))
# Declared as Numba's own parallel regions declare it (intp), as they share
# one LLVM module; the C function returns an int, hence the mask.
_get_pool: Any = types.ExternalFunction("get_num_threads", types.intp())

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
def pool_size() -> int:
    """The threads the calling thread's parallel regions run on."""
    return _get_pool() & 0x7FFFFFFF


@njit(**JIT)
def enter(threads: int) -> tuple[int, int]:
    """Takes the cores for a run: Numba's pool at `threads` for this calling
    thread, OpenBLAS at one. Returns what `leave` restores."""
    saved = (pool_size(), _get_blas())
    _set_pool(threads)
    if saved[1] != 1:
        _set_blas(1)
    return saved


@njit(**JIT)
def leave(saved: tuple[int, int]) -> None:
    _set_pool(saved[0])
    if saved[1] != 1:
        _set_blas(saved[1])


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


def layer() -> str:
    """The threading layer Numba's pool runs on ('tbb', 'omp' or 'workqueue')."""
    return str(numba.threading_layer())


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve(threads: int | None) -> int:
    """The thread count a CPU program runs with: `threads`, else
    LAYERC_NUM_THREADS, else the usable cores (at most Numba's pool)."""
    pool = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    if threads is None:
        env = os.environ.get(ENV)
        if env is None or not env.strip():
            return max(1, min(usable_cores(), pool))
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
    if threads > pool:
        raise ConfigError(f"{where}={threads}: Numba's thread pool has {pool} threads "
                          f"(NUMBA_NUM_THREADS); ask for at most {pool}, or raise "
                          f"NUMBA_NUM_THREADS before the first import of layerc")
    return threads
