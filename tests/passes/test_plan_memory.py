import numpy as np
from hypothesis import given, strategies as st

import layerc
from layerc.layers import Add, Dense, Flatten

from pass_helpers import run_pass
from layerc.passes import FoldReshape, PlanMemory


def mlp(widths):
    x = layerc.Input((widths[0],), name="x")
    h = x
    for i, w in enumerate(widths[1:]):
        h = Dense(w, name=f"d{i}")(h)
    return layerc.Model(x, h, name="mlp").to_graph()


def lifetimes(graph):
    """Per root buffer: (offset, size, first step, last step), from first principles."""
    order = graph.nodes()
    plan = graph.memory_plan
    spans = {}
    for step, node in enumerate(order):
        for port in [node.port(i) for i in range(len(node.types))] + list(node.inputs):
            off = plan.offset(port)
            size = graph.type_of(port).sample_size
            first = -1 if port.node in graph.inputs else step
            lo, hi, s = spans.get((off, port.node), (first, step, size))
            spans[(off, port.node)] = (min(lo, first), max(hi, step), max(s, size))
    for port in graph.outputs:
        off = plan.offset(port)
        lo, hi, s = spans[(off, port.node)]
        spans[(off, port.node)] = (lo, len(order), s)
    return spans


def test_chain_reuses_two_buffers():
    result = run_pass(PlanMemory(), mlp([64, 64, 64, 64, 64]))
    plan = result.graph.memory_plan
    assert result.changed == 1
    assert plan.naive_size == 5 * 64
    assert plan.arena_size == 2 * 64  # ping-pong
    text = layerc.ir.to_text(result.graph)
    assert "# arena: 128 floats per sample (naive 320, saves 60%)" in text


@given(st.lists(st.integers(1, 40), min_size=2, max_size=7))
def test_live_buffers_never_overlap(widths):
    graph = run_pass(PlanMemory(), mlp(widths)).graph
    spans = sorted(lifetimes(graph).items())
    for i, ((off_a, _), (lo_a, hi_a, size_a)) in enumerate(spans):
        for (off_b, _), (lo_b, hi_b, size_b) in spans[i + 1:]:
            live_together = lo_a <= hi_b and lo_b <= hi_a
            if live_together:
                assert off_a + size_a <= off_b or off_b + size_b <= off_a
    assert graph.memory_plan.arena_size <= graph.memory_plan.naive_size


def test_views_share_their_source_buffer_and_outputs_live_to_the_end():
    x = layerc.Input((2, 3), name="x")
    f = Flatten(name="f")(x)
    h = Dense(6, name="d")(f)
    y = Add(name="add")([h, f])
    graph = run_pass(FoldReshape(), layerc.Model(x, [y, h]).to_graph()).graph
    plan = run_pass(PlanMemory(), graph).graph.memory_plan
    port = layerc.ir.Port
    assert plan.offset(port("f")) == plan.offset(port("x"))
    offsets = {plan.offset(port(n)) for n in ("x", "d", "add")}
    assert len(offsets) == 3  # all three are live at the add
    assert np.all(np.array(sorted(offsets)) % 16 == 0)


def test_a_pooled_producers_inputs_live_through_the_pooling():
    """A backend may run a pooling inside its producer's step (the CPU's
    convolution and max pooling): the pooled output never lands on the
    producer's input, which a plain lifetime would allow."""
    from layerc.layers import Conv2D, MaxPooling2D

    x = layerc.Input((12, 12, 1), name="x")
    y = MaxPooling2D(2, name="pool")(Conv2D(8, 3, name="conv")(x))
    plan = run_pass(PlanMemory(), layerc.Model(x, y).to_graph()).graph.memory_plan
    port = layerc.ir.Port
    x_at, pool_at = plan.offset(port("x")), plan.offset(port("pool"))
    assert pool_at + 5 * 5 * 8 <= x_at or x_at + 12 * 12 <= pool_at
