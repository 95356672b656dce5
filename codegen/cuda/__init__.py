"""layerc.codegen.cuda: Numba-CUDA lowerings and the device launch plan.

Importing this package does not import numba.cuda; building a program does
(see device.py), and raises TargetError when no GPU, driver or simulator can
run it.
"""

from __future__ import annotations

from typing import Any


def build_program(graph: Any) -> Any:
    from layerc.codegen.cuda.program import build_program as build

    return build(graph)


__all__ = ["build_program"]
