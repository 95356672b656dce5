"""from_json reads untrusted input (an artifact's graph.json): what it refuses,
and the op rules' own checks of attrs no Keras layer can have."""

import copy

import numpy as np
import pytest

from layerc.ir import (ConfigError, Graph, IRError, OpKind, from_json, to_json, to_text,
                       verify)
from layerc.ir.ops.conv import ConvAttrs
from layerc.ir.ops.core import DenseAttrs, InputAttrs
from layerc.ir.ops.pool import PoolAttrs
from layerc.ir.ops.reshaping import PadAttrs, UpsampleAttrs
from layerc.passes import PlanMemory, SpecializePadding


def conv_graph() -> Graph:
    """input -> conv (stride 2, same) -> dense, specialized and planned."""
    g = Graph("conv")
    x = g.add(OpKind.INPUT, (), InputAttrs((7, 7, 2)), id="x").port()
    g.weights["c/kernel"] = np.ones((3, 3, 2, 4), np.float32)
    g.weights["c/bias"] = np.zeros(4, np.float32)
    c = g.add(OpKind.CONV, (x,), ConvAttrs(4, (3, 3), (2, 2), "same", (1, 1)),
              ("c/kernel", "c/bias"), layer="c", layer_kind="Conv2D", source="m.py:4").port()
    g.weights["d/kernel"] = np.ones((4, 3), np.float32)
    d = g.add(OpKind.DENSE, (c,), DenseAttrs(3, use_bias=False), ("d/kernel",), layer="d",
              layer_kind="Dense").port()
    g.outputs = [d]
    g = SpecializePadding().run(g).graph
    return PlanMemory().run(g).graph


def _load(doc, weights=None):
    g = conv_graph()
    return from_json(doc, g.weights if weights is None else weights)


def _edited(edit):
    doc = copy.deepcopy(to_json(conv_graph()))
    edit(doc)
    return doc


def _node(doc, node_id):
    return next(n for n in doc["nodes"] if n["id"] == node_id)


def test_a_round_trip_keeps_the_graph_and_its_plan():
    g = conv_graph()
    back = _load(to_json(g))
    assert to_text(back) == to_text(g)
    assert back.memory_plan == g.memory_plan
    verify(back)


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.update(format=2), "graph format 2 is not 1"),
    (lambda d: d.update(extra=1), "unknown ['extra']"),
    (lambda d: d.pop("weights"), "missing ['weights']"),
    (lambda d: d.update(nodes={}), "nodes must be a list"),
    (lambda d: _node(d, "c").update(op="conv3"), "node %c: unknown op 'conv3'"),
    (lambda d: _node(d, "c").update(id="x"), "node %x: a second node has this id"),
    (lambda d: _node(d, "c").update(source=3), "node %c's source must be a string"),
    (lambda d: _node(d, "c")["attrs"].update(strides=["2", 2]),
     "node %c: attr 'strides'[0] must be an int"),
    (lambda d: _node(d, "c")["attrs"].update(use_bias=1), "attr 'use_bias' must be true or false"),
    (lambda d: _node(d, "c")["attrs"].update(pads=[[1, 1, 0]]), "attr 'pads'"),
    (lambda d: _node(d, "c")["attrs"].update(filters=2**40), "attr 'filters' must be an int in"),
    (lambda d: _node(d, "c")["attrs"].update(colour="red"), "conv has no attr"),
    (lambda d: _node(d, "c")["attrs"].pop("filters"), "attr(s) 'filters' missing"),
    (lambda d: _node(d, "c")["attrs"].update(strides=[0, 2]),
     "node %c: c (Conv2D) at m.py:4: strides must be >= 1, got 0"),
    (lambda d: _node(d, "c")["attrs"].update(activation="relu9"),
     "activation 'relu9' is not an activation"),
    (lambda d: _node(d, "c")["attrs"].update(variant="fast"), "variant must be one of"),
    (lambda d: _node(d, "c")["attrs"].update(pads=[[0, 1], [9, 9]]), "stored pads"),
    (lambda d: _node(d, "c")["types"][0].update(dtype="float64"),
     "its types are stored as f64[?,4,4,4], inference gives f32[?,4,4,4]"),
    (lambda d: _node(d, "c").update(inputs=[["d", 0]]), "reads %d, which is no earlier node"),
    (lambda d: _node(d, "c").update(inputs=[["x", 1]]), "reads output 1 of %x"),
    (lambda d: _node(d, "c").update(weights=["c/kernel"]), "the weights table has 'c/bias'"),
    (lambda d: d.update(inputs=[]), "are not its input nodes"),
    (lambda d: d.update(inputs=["x", "x"]), "are not its input nodes"),
    (lambda d: d.update(outputs=[]), "the graph has no outputs"),
    (lambda d: d.update(outputs=[["d", -1]]), "must be an int in"),
    (lambda d: d["weights"].update({"c/bias": [5]}), "has shape (4,); the weights table says"),
    (lambda d: d["weights"].pop("c/bias"), "the weights table lacks 'c/bias'"),
    (lambda d: d["memory_plan"]["offsets"].pop(), "offsets, not one"),
    (lambda d: d["memory_plan"]["offsets"].append(d["memory_plan"]["offsets"][0]),
     "2 offsets, not one"),
    (lambda d: d["memory_plan"]["offsets"][0].append(0), "must be [node id, output index"),
    (lambda d: d["memory_plan"].update(arena_size=-1), "the arena size must be an int"),
])
def test_malformed_documents_are_refused_naming_the_place(edit, words):
    with pytest.raises(IRError) as info:
        _load(_edited(edit))
    assert words in str(info.value)


def test_the_types_a_node_stores_must_be_the_inferred_ones():
    doc = _edited(lambda d: _node(d, "d")["types"][0].update(shape=[None, 4]))
    with pytest.raises(IRError, match=r"node %d .*stored as f32\[\?,4\], inference gives "
                                      r"f32\[\?,4,4,3\]"):
        _load(doc)


def test_weights_no_node_reads_are_refused():
    g = conv_graph()
    weights = dict(g.weights, spare=np.zeros(2, np.float32))
    with pytest.raises(IRError, match="the weight arrays has 'spare', which no node reads"):
        from_json(to_json(g), weights)


@pytest.mark.parametrize("op, attrs, words", [
    (OpKind.CONV, ConvAttrs(4, (3, 3), (1, 1), "same", (1, 0)), "dilation must be >= 1"),
    (OpKind.CONV, ConvAttrs(4, (3, 3), (1,), "same", (1, 1)), "strides .* must give one value"),
    (OpKind.CONV, ConvAttrs(0, (3, 3), (1, 1), "same", (1, 1)), "filters must be >= 1"),
    (OpKind.CONV, ConvAttrs(4, (3, 3), (1, 1), "full", (1, 1)), "padding must be one of"),
    (OpKind.CONV, ConvAttrs(4, (3, 3), (1, 1), "same", (1, 1), data_format="nhwc"),
     "data_format must be one of"),
    (OpKind.POOL, PoolAttrs("min", (2, 2), (2, 2), "valid"), "mode must be one of"),
    (OpKind.POOL, PoolAttrs("max", (2, 2), (2, 2), "causal"), "padding must be one of"),
    (OpKind.PAD, PadAttrs(((1, -1), (0, 0), (0, 0))), "pads .* must be"),
    (OpKind.UPSAMPLE, UpsampleAttrs((0, 1, 1)), "size must be >= 1"),
])
def test_op_rules_refuse_attrs_no_layer_can_have(op, attrs, words):
    g = Graph()
    x = g.add(OpKind.INPUT, (), InputAttrs((6, 6, 2)), id="x").port()
    with pytest.raises(ConfigError, match=f"bad \\(Kind\\): {words}"):
        g.add(op, (x,), attrs, layer="bad", layer_kind="Kind")
