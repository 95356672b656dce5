"""The check: `assert_compiles_like_reference` compiles a model and compares its
predictions with the reference interpreter's, saying where they differ."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerc.ir import Graph, to_text
from layerc.models import Model
from layerc.passes import Pass, PlanMemory
from layerc.testing._package import package
from layerc.testing.inputs import _input_types, inputs_for
from layerc.testing.probes import _graph


def _as_arrays(model: Model | Graph, inputs: Any) -> list[np.ndarray]:
    """The inputs as one float32 array per model input (a dict goes by input name)."""
    if isinstance(inputs, dict):
        inputs = [inputs[name] for name, _ in _input_types(model)]
    elif isinstance(inputs, np.ndarray) or not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    return [np.ascontiguousarray(x, dtype=np.float32) for x in inputs]


def _mismatch(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> str:
    """'' when `got` is close to `want`; otherwise what differs, and where."""
    if got.shape != want.shape:
        return f"shape {got.shape} differs from the reference's {want.shape}"
    if got.dtype != np.float32:
        return f"dtype {got.dtype}, expected float32"
    close = np.isclose(got, want, atol=atol, rtol=rtol, equal_nan=True)
    if close.all():
        return ""
    with np.errstate(all="ignore"):
        error = np.abs(got.astype(np.float64) - want.astype(np.float64))
    error = np.where(close, 0.0, np.nan_to_num(error, nan=np.inf))
    where = np.unravel_index(int(np.argmax(error)), error.shape)
    return (f"{int((~close).sum())} of {close.size} values out of tolerance (atol={atol:g}, "
            f"rtol={rtol:g}); max abs error {float(error[where]):.6g} at index "
            f"{tuple(int(i) for i in where)}: compiled {float(got[where]):.9g}, "
            f"reference {float(want[where]):.9g}")


def assert_compiles_like_reference(model: Model | Graph, inputs: Any = None,
                                   atol: float = 1e-5, rtol: float = 1e-5,
                                   batch_size: int | None = None) -> None:
    """Asserts that `model` compiled for the CPU predicts what the reference
    interpreter (`layerc.ir.interpret` on the traced graph) computes, output by
    output, within `atol + rtol * |reference|` (NaN must meet NaN).

    Two compilations are checked: the default pipeline, and plan-memory alone
    (the one pass code generation needs), so the lowerings of the ops that the
    other passes remove or fuse (Dropout, Reshape, Flatten, Activation) run too.
    `inputs` is an array, a list of arrays (one per model input) or a dict by
    input name; when None, a batch of 3 is drawn from a seeded generator.
    `batch_size` is handed to `predict`, so a smaller one runs the batch in chunks.
    Also fails when `predict` writes into its inputs.
    """
    # `interpret` and `compile_model` are read on the package at call time (see _package).
    testing = package()
    xs = inputs_for(model, 3) if inputs is None else _as_arrays(model, inputs)
    graph = _graph(model)
    with np.errstate(all="ignore"):  # NaN and overflow are the reference's to compute
        want = testing.interpret(graph, xs)
    pipelines: tuple[tuple[str, Sequence[Pass] | None], ...] = (
        ("the default pipeline", None), ("plan-memory alone", (PlanMemory(),)))
    for label, passes in pipelines:
        compiled = testing.compile_model(model, passes=passes)
        before = [x.copy() for x in xs]
        got = compiled.predict(xs, batch_size=batch_size)
        got = got if isinstance(got, list) else [got]
        for i, (x, kept) in enumerate(zip(xs, before)):
            if not np.array_equal(x, kept, equal_nan=True):
                raise AssertionError(f"compiled with {label}, predict wrote into input {i}")
        if len(got) != len(want):
            raise AssertionError(f"compiled with {label}, the model gives {len(got)} outputs; "
                                 f"the reference gives {len(want)}")
        for i, (g, w, port) in enumerate(zip(got, want, graph.outputs)):
            problem = _mismatch(np.asarray(g), np.asarray(w), atol, rtol)
            if problem:
                node = graph.node(port.node)
                raise AssertionError(
                    f"compiled with {label} (batch_size={batch_size}), output {i} of "
                    f"{len(want)} ({port}, {node.label}, {graph.type_of(port)}) differs from "
                    f"the reference interpreter on inputs of shapes "
                    f"{[x.shape for x in xs]}: {problem}\ngraph:\n{to_text(graph)}")
