"""Layer classes register themselves, and build the weights their op's rule asks for."""

import pytest

import layerc
from layerc import layers
from layerc.ir import rule_for
from layerc.layers import LAYERS, Layer


def test_every_public_layer_class_is_registered_by_its_name():
    exported = [getattr(layers, name) for name in layers.__all__]
    public = {cls for cls in exported if isinstance(cls, type) and issubclass(cls, Layer)
              and cls not in (Layer, layers.Recurrent)}
    assert {cls.__name__: cls for cls in public} == LAYERS
    assert "Recurrent" not in LAYERS  # abstract


def test_a_layer_class_defined_elsewhere_does_not_join_the_registry():
    class Mine(layers.Dense):
        pass

    assert "Mine" not in LAYERS and LAYERS["Dense"] is layers.Dense


@pytest.mark.parametrize("make, shape", [
    (lambda: layers.Dense(3), (2, 5)),
    (lambda: layers.Dense(3, use_bias=False), (5,)),
    (lambda: layers.Conv2D(4, (3, 2), data_format="channels_first"), (2, 6, 5)),
    (lambda: layers.LocallyConnected2D(2, 2, strides=2), (6, 5, 3)),
    (lambda: layers.SimpleRNN(3), (4, 2)),
    (lambda: layers.GRU(3), (4, 2)),
    (lambda: layers.GRU(3, reset_after=False), (4, 2)),
    (lambda: layers.LSTM(3, use_bias=False), (4, 2)),
    (lambda: layers.Embedding(7, 3), (4,)),
])
def test_built_weights_have_the_shapes_the_op_rule_gives(make, shape):
    layer = make()
    x = layerc.Input(shape, dtype="int32" if isinstance(layer, layers.Embedding) else "float32")
    layer(x)
    model = layerc.Model(x, layer.output)
    (node,) = [n for n in model.to_graph().nodes() if n.layer == layer.name and n.weights]
    graph = model.to_graph()
    expected = rule_for(node.op).weight_shapes(node.attrs, graph.input_types(node))
    assert [w.shape for w in layer.get_weights()] == [tuple(s) for s in expected]
