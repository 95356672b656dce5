"""The CPU plan's named operand schema: each opcode declares its fields once,
a lowering that writes a missing or unknown field fails, the interpreter's
steps read named columns, and the listing prints from the schema."""

import inspect
import re

import numpy as np
import pytest

import layerc
from layerc.codegen import lowering
from layerc.codegen.codes import ACTIVATIONS
from layerc.codegen.cpu import interpreter, opcodes
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.lower import LOWERINGS
from layerc.codegen.cpu.ops.core import DENSE
from layerc.codegen.schema import Schema
from layerc.ir import OpKind, TargetError
from layerc.layers import Dense, Input
from layerc.passes import PlanMemory


def planned_dense():
    model = layerc.Sequential([Input((4,)), Dense(3, activation="relu", name="d")])
    graph = PlanMemory().run(model.to_graph()).graph
    return graph, graph.node("d")


def test_a_missing_or_unknown_operand_is_refused_naming_the_step_and_the_layer():
    graph, node = planned_dense()
    e = Emitter(graph)
    operands = {**lowering.dense_operands(e, node), "w": 0}
    del operands["k"]
    with pytest.raises(TargetError, match=r"d \(Dense\).*step dense takes .*missing \['k'\]"):
        e.instr(DENSE, node, **operands)
    with pytest.raises(TargetError, match=r"unknown \['width'\]"):
        e.instr(DENSE, node, **operands, k=4, width=3)
    assert e.rows == []


def test_a_lowering_that_disagrees_with_the_schema_fails_the_compile(monkeypatch):
    def lower_without_bias(e, node):
        operands = lowering.dense_operands(e, node)
        del operands["b"]
        e.instr(DENSE, node, **operands, w=e.weight(node.weights[0]))

    monkeypatch.setitem(LOWERINGS, OpKind.DENSE, lower_without_bias)
    model = layerc.Sequential([Input((4,)), Dense(3)])
    with pytest.raises(TargetError, match=r"missing \['b'\]"):
        layerc.compile(model)


def test_rows_hold_the_fields_in_declared_order_and_the_listing_names_them():
    graph, node = planned_dense()
    e = Emitter(graph)
    operands = {**lowering.dense_operands(e, node), "w": 7}
    e.instr(DENSE, node, **dict(reversed(list(operands.items()))))
    row = e.plan()[0]
    assert row[opcodes.OPCODE] == DENSE.code
    for field in DENSE.schema.fields:
        assert row[getattr(DENSE.cols, field)] == operands[field]
    shown = {**operands, "act": ACTIVATIONS[operands["act"]]}
    assert e.lines[0].split(";")[0].split()[1:] == [
        f"{f}={shown[f]}" for f in DENSE.schema.fields]
    assert "act=linear" in e.lines[0]


def test_every_opcode_has_a_step():
    assert set(opcodes.STEPS) == set(opcodes.OPCODES)


def test_the_interpreter_reads_no_column_by_number():
    assert not re.search(r"r\[[0-9]", inspect.getsource(interpreter))
    for step in opcodes.STEPS.values():
        assert not re.search(r"r\[[0-9]", inspect.getsource(step.py_func)), step


def test_every_op_kind_has_a_cpu_lowering():
    assert set(LOWERINGS) == set(OpKind)


def test_schemas_refuse_a_field_declared_twice():
    with pytest.raises(ValueError, match="declared twice"):
        Schema.of("twice", "x y x")


def test_the_plan_runs_the_same_numbers_through_the_shared_lowerings():
    """Dropout, reshape, pooling and merges lower through codegen/lowering.py;
    with plan-memory alone they all run as their own steps."""
    x = Input((4, 4, 2))
    y = layerc.layers.MaxPooling2D()(x)
    z = layerc.layers.Add()([y, layerc.layers.Dropout(0.5)(y)])
    model = layerc.Model(x, layerc.layers.Reshape((8,))(z))
    compiled = layerc.compile(model, passes=[PlanMemory()])
    kinds = [line.split()[0] for line in compiled.program.text.splitlines()
             if not line.startswith(";")]
    assert kinds == ["pool", "copy", "binary", "copy"]
    xs = np.random.default_rng(0).normal(size=(2, 4, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(compiled.predict(xs),
                                  layerc.ir.interpret(model.to_graph(), [xs])[0])


def test_a_shared_step_naming_a_kernel_the_target_lacks_names_the_layer():
    graph, node = planned_dense()
    with pytest.raises(TargetError, match=r"d \(Dense\).*the CPU backend has no opcode 'fft'"):
        Emitter(graph).step("fft", node, x=0)


def test_every_opcode_declares_what_its_rows_touch():
    assert set(opcodes.FOOTPRINTS) == set(opcodes.OPCODES)
