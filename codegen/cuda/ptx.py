"""Compiling every CUDA kernel to PTX without a GPU, to catch typing errors.

The simulator runs kernels as Python and checks no types; NVVM (from a CUDA
toolkit: `nvcc`'s install, or the `nvidia-cuda-nvcc` / `cuda-toolkit` wheels)
compiles them as the device would. Needs numba.cuda without the simulator;
`python -m layerc.codegen.cuda.ptx` compiles them all and prints their sizes.
"""

from __future__ import annotations

import inspect
import pkgutil
import sys
from typing import Any

# Kernel parameters that are device arrays; every other parameter is an int.
ARRAYS = frozenset({"x", "w", "y", "a", "b", "wt", "state"})


def kernels() -> dict[str, Any]:
    """Every kernel of the backend (the op families' and the shared ones), by name."""
    from layerc.codegen.cuda import kernels as shared
    from layerc.codegen.cuda import ops

    families = [sys.modules[f"{ops.__name__}.{m.name}"] for m in pkgutil.iter_modules(ops.__path__)]
    found = {}
    for module in (shared, *families):
        for name, value in vars(module).items():
            if hasattr(value, "py_func") and not getattr(value, "targetoptions", {}).get(
                    "device", False) and value.__module__ == module.__name__:
                found[f"{module.__name__.rsplit('.', 1)[1]}.{name}"] = value
    return found


def signature(fn: Any) -> str:
    params = inspect.signature(fn.py_func).parameters
    types = ["float32[::1]" if p in ARRAYS else "int64" for p in params]
    return f"void({', '.join(types)})"


def compile_all(cc: tuple[int, int] = (8, 0)) -> dict[str, str]:
    """PTX text of every kernel for compute capability `cc`.

    A kernel that calls a device function makes Numba compile that function
    for the current device's compute capability, which asks the driver; with
    no GPU, the dispatcher is told `cc` instead, for this compilation only."""
    from numba import cuda
    from numba.cuda import dispatcher

    class _Device:
        compute_capability = cc

    saved = dispatcher.get_current_device
    dispatcher.get_current_device = lambda: _Device()
    try:
        return {name: cuda.compile_ptx(fn.py_func, signature(fn), cc=cc)[0]
                for name, fn in sorted(kernels().items())}
    finally:
        dispatcher.get_current_device = saved


if __name__ == "__main__":
    for kernel, text in compile_all().items():
        print(f"{kernel:<32} {len(text):>8} bytes of PTX")
    sys.exit(0)
