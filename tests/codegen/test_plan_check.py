"""The plan verifier (codegen/plan_check.py, the footprints in the op files,
ir.memory.check_plan): every program the suite compiles passes it (it runs in
every build), and a plan edited to reach outside its buffers, or whose
operands contradict each other, or a memory plan that overlaps live tensors
or leaves the arena, is refused with a TargetError or IRError naming the
node and the operand, before any kernel runs."""

from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

import layerc
from layerc.codegen.cpu import opcodes
from layerc.codegen.cpu.program import _steps, build_program
from layerc.codegen.plan_check import Buffers, check_steps
from layerc.ir import IRError, MemoryPlan, TargetError, check_plan
from layerc.layers import (LSTM, Conv2D, Dense, Embedding, Input, MaxPooling2D, Flatten,
                           GlobalAveragePooling1D)


def _graph(model):
    return layerc.compile(model).graph


def _convnet():
    return layerc.Sequential([Input((12, 12, 3)), Conv2D(8, 3, activation="relu"),
                              MaxPooling2D(), Flatten(), Dense(4)])


def _recurrent():
    return layerc.Sequential([Input((5,), dtype="int32"), Embedding(20, 6, mask_zero=True),
                              LSTM(7, return_sequences=True), GlobalAveragePooling1D(),
                              Dense(2)])


def _checked(graph, plan):
    """check_steps on `plan` with the buffers of the program built from graph."""
    program = build_program(graph)
    check_steps(_steps(plan, program.spans), Buffers(
        graph.memory_plan.arena_size, program.arena_size, program.state_size,
        program.weights.size, _stored(graph)))


def _stored(graph):
    from layerc.codegen.base import lower_program
    from layerc.codegen.cpu.emitter import Emitter
    from layerc.codegen.cpu.lower import LOWERINGS

    e = Emitter(graph)
    lower_program(graph, e, LOWERINGS, "CPU", "program")
    return e.stored


@pytest.mark.parametrize("build", [_convnet, _recurrent])
def test_the_programs_layerc_builds_pass(build):
    graph = _graph(build())
    program = build_program(graph)
    _checked(graph, program.plan)  # and build_program itself ran the check


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_row_pushed_past_its_buffer_is_refused(data):
    graph = _graph(data.draw(st.sampled_from([_convnet, _recurrent]))())
    plan = build_program(graph).plan.copy()
    i = data.draw(st.integers(0, len(plan) - 1))
    op = opcodes.OPCODES[int(plan[i, opcodes.OPCODE])]
    field = data.draw(st.sampled_from(op.schema.fields))
    column = 1 + op.schema.fields.index(field)
    before = int(plan[i, column])
    plan[i, column] = data.draw(st.sampled_from([before + 10**7, -5, 10**9]))
    r = SimpleNamespace(**dict(zip(op.schema.fields, map(int, plan[i, 1:]))))
    try:
        regions = opcodes.FOOTPRINTS[op.code](r)
    except opcodes.BadRow:
        regions = None
    touched = regions is None or any(g.field == field for g in regions) or \
        field in ("h", "w_", "c", "oh", "ow", "f", "rows", "k", "n", "size", "steps",
                  "features", "units", "count", "dim", "vocabulary", "outer", "inner", "spatial")
    if not touched:
        return  # a code or flag field: not an extent, the kernel reads it as a choice
    with pytest.raises(TargetError, match=rf"plan row {i} \({op.name}\)"):
        _checked(graph, plan)


def test_a_dense_row_reading_past_the_arena_names_the_node_and_operand():
    graph = _graph(layerc.Sequential([Input((4,)), Dense(3, name="head")]))
    plan = build_program(graph).plan.copy()
    plan[0, 1 + opcodes.OPCODES[int(plan[0, 0])].schema.fields.index("k")] = 10**6
    with pytest.raises(TargetError, match=r"%head: plan row 0 \(dense\): operand x covers arena"):
        _checked(graph, plan)


def test_contradicting_operands_are_refused():
    r = SimpleNamespace(x=0, y=16, size=10, row=3, act=0)
    activate = next(op for op in opcodes.OPCODES.values() if op.name == "act")
    with pytest.raises(TargetError, match="contradict each other: 10 values in rows of 3"):
        check_steps([("%a", "act", opcodes.FOOTPRINTS[activate.code], r)],
                    Buffers(32, 32, 0, 16, {}))


def _replanned(graph, offsets=None, arena=None):
    plan = graph.memory_plan
    g = graph.copy()
    g.memory_plan = MemoryPlan(tuple(offsets if offsets is not None else plan.offsets),
                               plan.arena_size if arena is None else arena, plan.naive_size)
    return g


def test_a_memory_plan_overlapping_live_tensors_is_refused():
    graph = _graph(_convnet())
    check_plan(graph)
    offsets = dict(graph.memory_plan.offsets)
    ports = list(offsets)
    # the convolution's input and output are live together: put them at one place
    conv = next(n for n in graph.nodes() if n.op.value == "conv")
    offsets[conv.inputs[0]] = offsets[conv.port()]
    with pytest.raises(IRError, match="share floats .* while both are live"):
        check_plan(_replanned(graph, list(offsets.items())))
    assert ports  # every tensor had an offset


@pytest.mark.parametrize("edit, message", [
    ("shrink", "not an aligned place inside the arena"),
    ("drop", "has no offset"),
    ("unaligned", "not an aligned place"),
    ("negative", "not an aligned place")])
def test_a_memory_plan_leaving_the_arena_is_refused(edit, message):
    graph = _graph(_convnet())
    offsets = list(graph.memory_plan.offsets)
    arena = None
    if edit == "shrink":
        arena = graph.memory_plan.arena_size // 2
    elif edit == "drop":
        offsets = offsets[1:]
    else:
        port, at = offsets[-1]
        offsets[-1] = (port, at + 3 if edit == "unaligned" else -16)
    with pytest.raises(IRError, match=message):
        check_plan(_replanned(graph, offsets, arena))
    with pytest.raises(IRError):
        build_program(_replanned(graph, offsets, arena))  # before any kernel is built
