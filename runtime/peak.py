"""The machine's float32 matrix-product peak, measured now: what a profile's
"% of peak" compares each node's GFLOP/s with.

It times `sgemm` of the BLAS that layerc's own matrix products call (Numba's
`np.dot` in the kernels runs scipy's BLAS), on square float32 matrices in
Fortran order (no copies), and keeps the best of a few calls: the rate a
large, well-shaped GEMM reaches on this machine, with the threads it has now.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Peak:
    gflops: float
    how: str  # what was measured, in words


def sgemm_gflops(threads: int | None = None, size: int = 1024, repeats: int = 5) -> Peak:
    """The best rate of `repeats` float32 `size`^3 sgemm calls (after one
    untimed call). `threads`: the BLAS thread count to measure with (what
    layerc runs with), set through layerc's own hold on SciPy's OpenBLAS
    (codegen/cpu/threads.py); None keeps the BLAS's own count."""
    from scipy.linalg import blas

    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.random((size, size), np.float32))
    b = np.asfortranarray(rng.random((size, size), np.float32))
    c = np.zeros((size, size), np.float32, order="F")
    limit, pool = _limit(threads)
    with limit:
        blas.sgemm(1.0, a, b, 0.0, c, overwrite_c=True)
        best = min(_timed(blas.sgemm, a, b, c) for _ in range(max(repeats, 1)))
    gflops = 2.0 * size ** 3 / best
    how = f"scipy's BLAS, sgemm {size}^3 float32, best of {max(repeats, 1)}, {pool}"
    return Peak(gflops, how)


def _timed(sgemm: Callable[..., Any], a: np.ndarray, b: np.ndarray, c: np.ndarray) -> int:
    t0 = time.perf_counter_ns()
    sgemm(1.0, a, b, 0.0, c, overwrite_c=True)
    return max(time.perf_counter_ns() - t0, 1)


def _limit(threads: int | None) -> tuple[contextlib.AbstractContextManager[Any], str]:
    """A context that holds the BLAS at `threads`, and how many threads the
    measurement ran with, in words."""
    from layerc.codegen.cpu.threads import BLAS_CONTROLLED, blas_threads

    if threads is None:
        return contextlib.nullcontext(), "the BLAS's own thread count"
    if not BLAS_CONTROLLED:
        return contextlib.nullcontext(), (f"the BLAS's own thread count (not SciPy's "
                                          f"OpenBLAS, so not layerc's {threads})")
    return blas_threads(threads), f"{threads} thread(s)"
