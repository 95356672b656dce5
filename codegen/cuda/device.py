"""Finding `numba.cuda`, lazily, and saying clearly when it cannot run.

`numba.cuda` is imported only here, on the first CUDA compile, so `import
layerc` and the CPU backend never pay for it nor need it. With numba 0.68 the
module is either Numba's own built-in (deprecated) CUDA target or, when the
`numba-cuda` package is installed (`pip install 'layerc[cuda]'`), NVIDIA's
out-of-tree target, which its import hook puts under the same name; the
kernels here run on both. `NUMBA_ENABLE_CUDASIM=1`, set before the first
import, gives Numba's CUDA simulator instead of a GPU (slow: tests only).
"""

from __future__ import annotations

import os
from types import ModuleType

from layerc.ir import TargetError

_HOW = ("install the CUDA extra (pip install 'layerc[cuda]') on a machine with an NVIDIA GPU "
        "and driver, or set NUMBA_ENABLE_CUDASIM=1 before the first import of numba.cuda to "
        "run the CUDA kernels in Numba's (slow) simulator; or use target='cpu'")


def simulated() -> bool:
    """Whether the loaded numba.cuda is the simulator."""
    return _is_simulator(module())


def module() -> ModuleType:
    """`numba.cuda`, without checking for a GPU (enough to compile to PTX)."""
    try:
        from numba import cuda
    except Exception as err:  # noqa: BLE001 - ImportError, or a driver that fails to load
        raise TargetError(f"target 'cuda' needs numba.cuda, which failed to import "
                          f"({type(err).__name__}: {err}); {_HOW}") from None
    return cuda


def load() -> ModuleType:
    """`numba.cuda`, ready to launch kernels, or a TargetError that says what
    is missing and how to fix it."""
    cuda = module()
    if _is_simulator(cuda):
        return cuda
    try:
        available = cuda.is_available()
    except Exception as err:  # noqa: BLE001 - any driver failure means "not available"
        raise TargetError(f"target 'cuda': the CUDA driver failed to load ({err}); "
                          f"{_HOW}") from None
    if not available:
        sim = os.environ.get("NUMBA_ENABLE_CUDASIM", "")
        note = (" (NUMBA_ENABLE_CUDASIM was set after numba.cuda had been imported, so it "
                "had no effect)") if sim not in ("", "0") else ""
        raise TargetError(f"target 'cuda': no CUDA GPU or driver was found{note}; {_HOW}")
    return cuda


def _is_simulator(cuda: ModuleType) -> bool:
    # Both implementations export the simulator's decorator from a module
    # under `.simulator`; the device target's comes from `.decorators`.
    return ".simulator" in getattr(cuda.jit, "__module__", "")
