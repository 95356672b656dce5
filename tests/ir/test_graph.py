"""The IR graph: building, editing, verifying, printing, JSON and DOT."""

import numpy as np
import pytest

from layerc.ir import (Graph, IRError, OpKind, Port, ShapeError, TensorType, from_json,
                       interpret, to_dot, to_json, to_text, verify)
from layerc.ir.ops.core import ActivationAttrs, DenseAttrs, InputAttrs, ReshapeAttrs
from layerc.ir.ops.merge import ConcatAttrs, MergeAttrs


def small_graph() -> Graph:
    g = Graph("small")
    x = g.add(OpKind.INPUT, (), InputAttrs((4,)), id="x").port()
    g.weights["d/kernel"] = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    g.weights["d/bias"] = np.ones(3, np.float32)
    d = g.add(OpKind.DENSE, (x,), DenseAttrs(3), ("d/kernel", "d/bias"), layer="d",
              layer_kind="Dense", source="model.py:3").port()
    a = g.add(OpKind.ACTIVATION, (d,), ActivationAttrs("relu"), id="act").port()
    g.outputs = [a]
    return g


def test_types_are_inferred_when_nodes_are_built():
    g = small_graph()
    assert g.node("d").type == TensorType((None, 3))
    assert str(g.node("act").type) == "f32[?,3]"


def test_bad_shape_names_the_layer_and_line():
    g = Graph()
    x = g.add(OpKind.INPUT, (), InputAttrs((12,))).port()
    with pytest.raises(ShapeError, match=r"r \(Reshape\) at m.py:7: cannot reshape 12 values"):
        g.add(OpKind.RESHAPE, (x,), ReshapeAttrs((5, 2)), layer="r", layer_kind="Reshape",
              source="m.py:7")


def test_text_is_stable_and_readable():
    text = to_text(small_graph())
    assert text == to_text(small_graph())
    assert text == (
        "graph small(%x: f32[?,4]) {\n"
        "  %x = input() {shape=(4,), dtype='float32', batch_size=None} : f32[?,4]\n"
        "  %d = dense(%x) {units=3, use_bias=True, activation='linear'} "
        "[d/kernel: f32[4,3], d/bias: f32[3]] : f32[?,3]\n"
        "  %act = activation(%d) {activation='relu'} : f32[?,3]\n"
        "  return %act\n"
        "}\n")
    assert "# d (Dense) at model.py:3" in to_text(small_graph(), locations=True)


def test_json_round_trip_keeps_text_and_numbers():
    g = small_graph()
    back = from_json(to_json(g), g.weights)
    assert to_text(back) == to_text(g)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_array_equal(interpret(back, [x])[0], interpret(g, [x])[0])


def test_dot_export_lists_nodes_and_edges():
    dot = to_dot(small_graph())
    assert dot.startswith('digraph "small"')
    assert '"x" -> "d";' in dot and '"d" -> "act";' in dot


def test_verify_accepts_a_sound_graph_and_rejects_a_bad_weight():
    g = small_graph()
    verify(g)
    g.weights["d/kernel"] = np.zeros((5, 3), np.float32)
    with pytest.raises(IRError, match=r"weight 'd/kernel' has shape \(5, 3\), expected \(4, 3\)"):
        verify(g)


def test_verify_shows_the_failing_node_and_neighbours():
    g = small_graph()
    del g.weights["d/bias"]
    with pytest.raises(IRError) as info:
        verify(g)
    message = str(info.value)
    assert "d (Dense) at model.py:3: weight 'd/bias' is missing" in message
    assert "> %d = dense(%x)" in message and "%act = activation(%d)" in message


def test_redirect_and_remove():
    g = small_graph()
    assert g.redirect(Port("act"), Port("d")) == 1
    g.remove("act")
    assert g.outputs == [Port("d")]
    with pytest.raises(IRError, match="still has users"):
        g.remove("d")
    verify(g)


def test_redirect_refuses_a_type_change():
    g = small_graph()
    with pytest.raises(IRError, match="cannot redirect"):
        g.redirect(Port("d"), Port("x"))


def test_merges_check_shapes():
    g = Graph()
    a = g.add(OpKind.INPUT, (), InputAttrs((3,))).port()
    b = g.add(OpKind.INPUT, (), InputAttrs((4,))).port()
    with pytest.raises(ShapeError, match="expected inputs of one shape"):
        g.add(OpKind.ADD, (a, b), MergeAttrs())
    c = g.add(OpKind.CONCATENATE, (a, b), ConcatAttrs(1))
    assert c.type == TensorType((None, 7))
    with pytest.raises(ShapeError, match="at least 2"):
        g.add(OpKind.ADD, (a,), MergeAttrs())
