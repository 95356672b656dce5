"""The CUDA backend's tests run under Numba's CUDA simulator unless
LAYERC_CUDA_DEVICE=1 (scripts/gpu_check.sh sets it on a machine with a GPU).

The simulator is chosen when numba.cuda is first imported, so this imports it
here, with NUMBA_ENABLE_CUDASIM=1 set only for that import and then restored:
the variable touches nothing else in numba (only the cuda target reads it) and
subprocesses of other tests do not inherit it. Tests that need numba.cuda
without the simulator (the missing-GPU error, PTX compilation) run in
subprocesses of their own.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import numpy as np
import pytest

DEVICE = os.environ.get("LAYERC_CUDA_DEVICE") == "1"


def _import_simulator() -> None:
    if DEVICE or "numba.cuda" in sys.modules:
        return
    from numba.core import config

    saved = os.environ.get("NUMBA_ENABLE_CUDASIM")
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    config.reload_config()
    try:
        import numba.cuda  # noqa: F401
    finally:
        if saved is None:
            del os.environ["NUMBA_ENABLE_CUDASIM"]
        else:
            os.environ["NUMBA_ENABLE_CUDASIM"] = saved
        config.reload_config()


_import_simulator()

import layerc  # noqa: E402
from layerc.ir import interpret  # noqa: E402
from layerc.passes import PlanMemory  # noqa: E402
from layerc.testing import _as_arrays, _mismatch, inputs_for  # noqa: E402

PIPELINES = (("the default pipeline", None), ("plan-memory alone", (PlanMemory(),)))


def check_like_reference(model: Any, inputs: Any = None, atol: float = 1e-5,
                         rtol: float = 1e-5, batch_size: int | None = None,
                         both: bool = True) -> None:
    """`model` compiled for CUDA predicts what the reference interpreter
    computes; with `both`, also compiled with plan-memory alone, so the
    lowerings of the ops the other passes fold or fuse run too."""
    xs = inputs_for(model, 2) if inputs is None else _as_arrays(model, inputs)
    graph = model.to_graph()
    with np.errstate(all="ignore"):
        want = interpret(graph, xs)
    for label, passes in PIPELINES if both else PIPELINES[:1]:
        compiled = layerc.compile(model, target="cuda", passes=passes)
        before = [x.copy() for x in xs]
        got = compiled.predict(xs, batch_size=batch_size)
        got = got if isinstance(got, list) else [got]
        for x, kept in zip(xs, before):
            assert np.array_equal(x, kept, equal_nan=True), "predict wrote into its input"
        assert len(got) == len(want)
        for i, (g, w) in enumerate(zip(got, want)):
            problem = _mismatch(np.asarray(g), np.asarray(w), atol, rtol)
            assert not problem, (f"CUDA, compiled with {label}, output {i}: {problem}\n"
                                 f"{compiled.program.text}")


@pytest.fixture(scope="session")
def like_reference() -> Callable[..., None]:
    return check_like_reference
