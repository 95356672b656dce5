"""Per-node profiles of a compiled model: where a predict spends its time.

`CompiledModel.profile(x)` copies a batch into the arena, then, round after
round, runs the program node by node (each node's steps, as the emitter
recorded them: a node with a fused activation is one node) and times each
from Python with `time.perf_counter_ns`. A node's time is the median over the
rounds, less the cost of one timed call that runs nothing (measured first);
its GFLOP/s divides the FLOPs its op rule counts (`OpRule.flops`, per sample,
times the batch) by that time, and "% of peak" compares that rate with the
float32 GEMM peak measured in the same run (`layerc.runtime.peak`), as ONNX
Runtime's profiler and TVM's debug executor report per-op times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerc.ir import Graph, Node, rule_for

OVERHEAD_CALLS = 200  # empty timed calls whose median is the per-call overhead


@dataclass(frozen=True)
class NodeTime:
    """One row of a profile: a node that runs steps, and its time."""

    node: str  # node id
    op: str  # op kind with its fused activation: "conv+relu"
    layer: str  # the user's layer and its kind: "conv2d (Conv2D)"
    steps: int  # plan rows (CPU) or kernel launches (CUDA)
    time_us: float  # median over the rounds, per-call overhead subtracted, >= 0
    share: float  # % of the profile's total
    flops: int  # for the whole batch (0: the op does no arithmetic that counts)
    gflops: float | None  # flops / time; None without flops or time
    peak_share: float | None  # gflops as % of the peak; None without both


@dataclass(frozen=True)
class Profile:
    """Where one batch's predict spends its time, node by node. `str(profile)`
    is `profile.table()`."""

    model: str
    target: str
    batch: int
    rounds: int
    rows: tuple[NodeTime, ...]
    total_us: float  # the sum of the rows
    whole_us: float  # the whole program in one timed call (median), for comparison
    overhead_us: float  # one timed call of no steps: subtracted from each row
    peak_gflops: float | None  # None where no peak applies (see peak_how)
    peak_how: str

    def table(self) -> str:
        """An aligned text table: a header, a row per node, the total."""
        lines = [f"profile of {self.model} on {self.target}, batch {self.batch}: median of "
                 f"{self.rounds} rounds per node",
                 "peak: " + (f"{self.peak_gflops:,.1f} GFLOP/s ({self.peak_how})"
                             if self.peak_gflops else self.peak_how),
                 f"per-call overhead: {self.overhead_us:.2f} us (a timed call of no steps; "
                 f"subtracted from each node)", ""]
        head = ("node", "op", "layer", "time us", "share", "GFLOP/s", "% peak")
        body = [(f"%{r.node}", r.op, r.layer, f"{r.time_us:,.1f}", f"{r.share:.1f}%",
                 "-" if r.gflops is None else f"{r.gflops:,.2f}",
                 "-" if r.peak_share is None else f"{r.peak_share:.1f}%") for r in self.rows]
        flops = sum(r.flops for r in self.rows)
        rate = flops / (self.total_us * 1e3) if flops and self.total_us > 0 else None
        foot = ("total", "", "", f"{self.total_us:,.1f}", "100.0%" if self.rows else "-",
                "-" if rate is None else f"{rate:,.2f}",
                "-" if rate is None or not self.peak_gflops
                else f"{100 * rate / self.peak_gflops:.1f}%")
        table = [head, *body, foot]
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        left = 3  # node, op and layer align left; numbers right

        def line(row: Sequence[str]) -> str:
            cells = [c.ljust(w) if i < left else c.rjust(w)
                     for i, (c, w) in enumerate(zip(row, widths))]
            return "  ".join(cells).rstrip()

        lines += [line(head), *(line(r) for r in body), line(foot),
                  f"whole program in one call: {self.whole_us:,.1f} us"]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.table()


def op_name(node: Node) -> str:
    """The op kind with its fused activation: `dense+relu`, `conv+relu`. (Not
    the specialize-padding pass's variant: each target takes it its own way;
    `layerc inspect` lists the kernels with their variant.)"""
    name = node.op.value
    if rule_for(node.op).epilogue and node.attrs.activation != "linear":
        name += f"+{node.attrs.activation}"
    return name


def layer_name(node: Node) -> str:
    name = node.layer or node.id
    return f"{name} ({node.layer_kind})" if node.layer_kind else name


def node_flops(graph: Graph, node: Node) -> int:
    """The FLOPs per sample the node's op rule counts."""
    return int(rule_for(node.op).flops(node.attrs, graph.input_types(node), node.types))


def measure(spans: Sequence[tuple[str, int, int]], run_steps: Callable[[int, int], None],
            rounds: int,
            reset: Callable[[], None] = lambda: None) -> tuple[np.ndarray, float, float]:
    """Times every span `rounds` times (after one untimed round); `reset` runs
    before each round. Returns the per-span medians in us with the per-call
    overhead subtracted (clamped at 0), the overhead, and the median of one
    call over every step."""
    steps = spans[-1][2] if spans else 0
    reset()
    run_steps(0, steps)  # warm up: caches, first-touch of the arena
    clock = time.perf_counter_ns
    empty = []
    for _ in range(OVERHEAD_CALLS):
        t0 = clock()
        run_steps(0, 0)
        empty.append(clock() - t0)
    overhead = float(np.median(empty))
    times = np.zeros((rounds, len(spans)), np.float64)
    whole = np.zeros(rounds, np.float64)
    for r in range(rounds):
        reset()
        for i, (_, start, stop) in enumerate(spans):
            t0 = clock()
            run_steps(start, stop)
            times[r, i] = clock() - t0
        reset()
        t0 = clock()
        run_steps(0, steps)
        whole[r] = clock() - t0
    medians = np.maximum(np.median(times, axis=0) - overhead, 0.0) / 1e3
    return medians, overhead / 1e3, max(float(np.median(whole)) - overhead, 0.0) / 1e3


def build(model: Any, spans: Sequence[tuple[str, int, int]], medians: np.ndarray,
          batch: int, rounds: int, overhead_us: float, whole_us: float,
          peak_gflops: float | None, peak_how: str) -> Profile:
    """A Profile from the timings of `measure`."""
    graph: Graph = model.graph
    total = float(np.sum(medians))
    rows = []
    for (node_id, start, stop), us in zip(spans, medians):
        node = graph.node(node_id)
        flops = node_flops(graph, node) * batch
        gflops = flops / (us * 1e3) if flops and us > 0 else None
        peak = 100 * gflops / peak_gflops if gflops is not None and peak_gflops else None
        rows.append(NodeTime(node_id, op_name(node), layer_name(node), stop - start,
                             float(us), 100 * float(us) / total if total > 0 else 0.0,
                             flops, gflops, peak))
    return Profile(graph.name, model.target, batch, rounds, tuple(rows), total, whole_us,
                   overhead_us, peak_gflops, peak_how)
