"""The reference values of every tensor of a model, and the probes that reject
ill-conditioned draws: `probe_magnitude` (how large values get) and
`probe_sensitivity` (how far float32 rounding in summing ops moves the outputs)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from hypothesis import assume

from layerc.ir import Graph, OpKind, Port, rule_for
from layerc.models import Model
from layerc.testing._package import package
from layerc.testing.inputs import INPUT_RANGE, inputs_for

MAX_MAGNITUDE = 64.0
"""The largest value any tensor of a drawn model may reach on the probe input."""

MAX_SENSITIVITY = 0.1
"""The largest `probe_sensitivity` of a drawn model (in tolerances)."""

SENSITIVITY_NOISE = 2.0**-22
"""The relative noise `probe_sensitivity` puts on every value a summing op reads
(two float32 ulps)."""

def _graph(model: Model | Graph) -> Graph:
    return model if isinstance(model, Graph) else model.to_graph()


def reference_values(model: Model | Graph, inputs: Sequence[np.ndarray]
                     ) -> dict[Port, np.ndarray]:
    """Every tensor of the traced model (before any pass) on `inputs`, computed by
    the reference interpreter, by port."""
    graph = _graph(model).copy()
    graph.outputs = [n.port(i) for n in graph.nodes() for i in range(len(n.types))]
    values = package().interpret(graph, [np.asarray(x, np.float32) for x in inputs])
    return dict(zip(graph.outputs, values))


def probe_magnitude(model: Model | Graph, batch: int = 4) -> float:
    """The largest |value| of any tensor of the model on a probe batch (random
    inputs over INPUT_RANGE, plus samples at its two ends); inf when a value is
    not finite."""
    xs = _probe_inputs(model, batch)
    largest = 0.0
    with np.errstate(all="ignore"):
        for value in reference_values(model, xs).values():
            if value.size == 0:
                continue
            if not np.all(np.isfinite(value)):
                return math.inf
            largest = max(largest, float(np.max(np.abs(value))))
    return largest


def _assume_well_conditioned(model: Model, max_magnitude: float | None,
                             max_sensitivity: float | None) -> None:
    """Rejects (hypothesis's assume) a model whose values or whose rounding
    sensitivity exceed the bounds (None: no bound)."""
    if max_magnitude is not None:
        assume(probe_magnitude(model) <= max_magnitude)
    if max_sensitivity is not None:
        assume(probe_sensitivity(model) <= max_sensitivity)


def _probe_inputs(model: Model | Graph, batch: int) -> list[np.ndarray]:
    xs = inputs_for(model, batch)
    for x in xs:
        x[0] = INPUT_RANGE[0]
        x[-1] = INPUT_RANGE[1]
    return xs


def probe_sensitivity(model: Model | Graph, batch: int = 32, atol: float = 1e-5,
                      rtol: float = 1e-5) -> float:
    """How far rounding alone may move the model's outputs, in units of the
    tolerance `atol + rtol * |reference|`: the reference interpreter runs on a
    probe batch (random inputs over INPUT_RANGE and samples at its two ends) once
    as is and once with every value an op that sums products reads scaled
    by a seeded random 1 + u * SENSITIVITY_NOISE, |u| <= 1 (what a backend summing
    in float32 may differ by), and this is the largest output change; inf when a
    value is not finite. The batch is large so the probe meets the inputs that
    make the model most sensitive about as often as a test's inputs do."""
    graph = _graph(model)
    rng = np.random.default_rng(0)

    def nudged(x: np.ndarray) -> np.ndarray:
        if x.dtype.kind != "f":
            return x  # indices stay exact
        noise = rng.uniform(-SENSITIVITY_NOISE, SENSITIVITY_NOISE, x.shape)
        return (x * (1.0 + noise)).astype(x.dtype)

    xs = _probe_inputs(model, batch)
    with np.errstate(all="ignore"):
        want = package().interpret(graph, xs)
        values: dict[Port, np.ndarray] = {Port(i, 0): x for i, x in zip(graph.inputs, xs)}
        for node in graph.nodes():
            if node.op is OpKind.INPUT:
                continue
            xs = [values[p] for p in node.inputs]
            if rule_for(node.op).sums_products:
                xs = [nudged(x) for x in xs]
            outs = rule_for(node.op).reference(node.attrs, xs,
                                               [graph.weights[w] for w in node.weights])
            values.update((node.port(i), out) for i, out in enumerate(outs))
        worst = 0.0
        for port, w in zip(graph.outputs, want):
            got = values[port]
            if w.size == 0:
                continue
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(got))):
                return math.inf
            change = np.abs(got.astype(np.float64) - w) / (atol + rtol * np.abs(w))
            worst = max(worst, float(np.max(change)))
    return worst
