"""The `flops` trait of the op rules: FLOPs per sample, checked against
formulas written here from each layer's weights and output shape (a
multiply-add counts 2), not from the rules' attrs."""

import math

import pytest

import layerc
from layerc.ir import OpKind, rule_for
from layerc.layers import (GRU, LSTM, Activation, Add, AveragePooling2D, Conv1D, Conv2D, Dense,
                           Embedding, Flatten, GlobalMaxPooling1D, Input, LocallyConnected1D,
                           LocallyConnected2D, MaxPooling1D, SimpleRNN)


def node_flops(graph, node):
    return rule_for(node.op).flops(node.attrs, graph.input_types(node), node.types)


def flops_of(model, op):
    """The flops of the model's only node of kind `op`, as traced (no passes)."""
    graph = model.to_graph()
    (node,) = [n for n in graph.nodes() if n.op is op]
    return node_flops(graph, node)


def per_sample(shape):
    return math.prod(shape[1:])


@pytest.mark.parametrize("shape, units", [((7,), 5), ((3, 4), 6), ((2, 3, 8), 2)])
def test_dense_counts_two_flops_per_weight_per_row(shape, units):
    layer = Dense(units)
    model = layerc.Sequential([Input(shape), layer])
    kernel = layer.get_weights()[0]
    rows = math.prod(shape[:-1])
    assert flops_of(model, OpKind.DENSE) == 2 * kernel.size * rows


@pytest.mark.parametrize("layer, shape", [
    (Conv2D(4, (3, 3)), (8, 9, 2)),
    (Conv2D(3, (2, 3), strides=(2, 1), padding="same"), (7, 6, 5)),
    (Conv2D(2, (3, 3), dilation_rate=(2, 2), data_format="channels_first"), (3, 9, 10)),
    (Conv1D(6, 4, padding="causal"), (11, 3)),
])
def test_conv_counts_two_flops_per_kernel_weight_per_output_pixel(layer, shape):
    model = layerc.Sequential([Input(shape), layer])
    kernel = layer.get_weights()[0]  # (*kernel_size, in, filters)
    out = model.output_shape
    filters = kernel.shape[-1]
    pixels = per_sample(out) // filters
    assert flops_of(model, OpKind.CONV) == 2 * kernel.size * pixels


@pytest.mark.parametrize("layer, shape", [
    (LocallyConnected1D(3, 2, strides=2), (9, 4)),
    (LocallyConnected2D(2, (2, 3), data_format="channels_first"), (3, 5, 6)),
])
def test_locally_connected_counts_two_flops_per_kernel_weight(layer, shape):
    """Each output position has its own kernel: the flops are twice the
    kernel's size (positions x window x filters)."""
    model = layerc.Sequential([Input(shape), layer])
    assert flops_of(model, OpKind.LOCAL) == 2 * layer.get_weights()[0].size


@pytest.mark.parametrize("make", [lambda: LSTM(5), lambda: GRU(4), lambda: SimpleRNN(3),
                                  lambda: GRU(4, reset_after=False),
                                  lambda: LSTM(2, return_sequences=True)])
def test_recurrent_layers_count_the_input_and_recurrent_products_of_every_step(make):
    layer = make()
    steps, features = 6, 7
    model = layerc.Sequential([Input((steps, features)), layer])
    kernel, recurrent = layer.get_weights()[:2]
    assert flops_of(model, OpKind.RECURRENT) == 2 * steps * (kernel.size + recurrent.size)


def test_lstm_by_hand():
    """LSTM(64) over 32 steps of 32 features: 4 gates, each a (32 + 64) x 64
    product per step."""
    model = layerc.Sequential([Input((32, 32)), LSTM(64)])
    assert flops_of(model, OpKind.RECURRENT) == 32 * 2 * (32 + 64) * 4 * 64


def test_simple_counts_of_pooling_elementwise_and_merges():
    a = Input((6, 4))
    pooled = MaxPooling1D(3)(a)  # (2, 4): each output reads 3 values
    assert flops_of(layerc.Model(a, pooled), OpKind.POOL) == 2 * 4 * 3
    two = AveragePooling2D((2, 2))
    assert flops_of(layerc.Sequential([Input((4, 6, 3)), two]), OpKind.POOL) == 2 * 3 * 3 * 4
    glob = layerc.Model(a, GlobalMaxPooling1D()(a))
    assert flops_of(glob, OpKind.GLOBAL_POOL) == 6 * 4
    act = layerc.Model(a, Activation("softmax")(a))
    assert flops_of(act, OpKind.ACTIVATION) == 6 * 4
    b, c = Input((6, 4)), Input((6, 4))
    merged = layerc.Model([a, b, c], Add()([a, b, c]))
    assert flops_of(merged, OpKind.ADD) == 2 * 6 * 4


def test_ops_that_move_or_look_up_values_count_zero():
    model = layerc.Sequential([Input((5,), dtype="int32"), Embedding(10, 3), Flatten()])
    graph = model.to_graph()
    assert {n.op: node_flops(graph, n) for n in graph.nodes()} == {
        OpKind.INPUT: 0, OpKind.EMBEDDING: 0, OpKind.FLATTEN: 0}
    for kind in (OpKind.VIEW, OpKind.TRANSPOSE, OpKind.CONCATENATE, OpKind.DROPOUT):
        assert rule_for(kind).flops(None, (), ()) == 0


def test_a_fused_activation_keeps_the_products_count():
    """fuse-activation folds the Activation into the Dense; the Dense's
    count stays its product's."""
    layer = Dense(5, activation="relu")
    model = layerc.Sequential([Input((7,)), layer])
    compiled = layerc.compile(model)
    (node,) = [n for n in compiled.graph.nodes() if n.op is OpKind.DENSE]
    assert node.attrs.activation == "relu"
    assert node_flops(compiled.graph, node) == 2 * 7 * 5
