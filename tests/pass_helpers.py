"""Shared helpers for pass tests: run one pass, compare numbers before/after."""

import numpy as np

from layerc.ir import Graph, interpret, to_text, verify
from layerc.passes import Pass, PassResult


def run_pass(p: Pass, graph: Graph) -> PassResult:
    before = to_text(graph)
    result = p.run(graph)
    assert to_text(graph) == before, f"{p.name} edited its input graph"
    verify(result.graph)
    return result


def assert_same_numbers(a: Graph, b: Graph, seed: int = 0, batch: int = 3) -> None:
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(batch, *a.node(i).type.sample_shape)).astype(np.float32)
          for i in a.inputs]
    for out_a, out_b in zip(interpret(a, xs), interpret(b, xs)):
        np.testing.assert_allclose(out_a, out_b, rtol=1e-6, atol=1e-6)


def body(graph: Graph) -> str:
    """The graph text without the header line, for compact goldens."""
    return "".join(to_text(graph).splitlines(keepends=True)[1:])
