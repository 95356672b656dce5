"""fold-batchnorm: a batch normalization after a Dense, Conv or
LocallyConnected becomes that layer's kernel and bias; the numbers stay
(reference interpreter before and after), and the cases that must not fold
do not, with a note saying why."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import layerc
from layerc.ir import OpKind
from layerc.layers import (BatchNormalization, Conv1D, Conv2D, Dense, Input,
                           LocallyConnected1D, LocallyConnected2D)
from layerc.passes import FoldBatchNorm, FuseActivation

from pass_helpers import assert_same_numbers, body, run_pass


def _statistics(model, seed):
    """Batch-norm statistics far from the identity (the initializers' are
    the identity): variances in [0.25, 4)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            ws = layer.get_weights()
            layer.set_weights([rng.uniform(0.25, 4.0, w.shape) if i == len(ws) - 1
                               else rng.uniform(-2.0, 2.0, w.shape) for i, w in enumerate(ws)])
    return model


def _kinds(graph):
    return [n.op for n in graph.nodes()]


PRODUCERS = {
    "dense": (lambda: Dense(5, name="p"), (7,), -1),
    "dense over a sequence": (lambda: Dense(5, name="p"), (3, 7), -1),
    "conv2d channels_last": (lambda: Conv2D(4, 3, name="p"), (6, 6, 2), -1),
    "conv2d channels_first": (lambda: Conv2D(4, 3, data_format="channels_first", name="p"),
                              (2, 6, 6), 1),
    "conv1d without bias": (lambda: Conv1D(4, 2, use_bias=False, name="p"), (6, 3), 2),
    "locally connected 1d": (lambda: LocallyConnected1D(3, 2, name="p"), (5, 2), -1),
    "locally connected 2d channels_first": (
        lambda: LocallyConnected2D(3, 2, data_format="channels_first", name="p"), (2, 4, 4), 1),
}


@pytest.mark.parametrize("name", list(PRODUCERS))
@given(center=st.booleans(), scale=st.booleans(), seed=st.integers(0, 2**16))
def test_folds_into_the_producer_and_keeps_the_numbers(name, center, scale, seed):
    make, shape, axis = PRODUCERS[name]
    model = _statistics(layerc.Sequential([Input(shape), make(), BatchNormalization(
        axis=axis, center=center, scale=scale, name="bn")]), seed)
    graph = model.to_graph()
    result = run_pass(FoldBatchNorm(), graph)
    assert result.changed == 1 and OpKind.BATCH_NORM not in _kinds(result.graph)
    producer = result.graph.node("p")
    assert producer.attrs.use_bias and all(w.endswith("+bn") for w in producer.weights)
    assert_same_numbers(graph, result.graph, seed=seed)


def test_the_activation_after_it_fuses_into_the_producer_next():
    model = _statistics(layerc.Sequential([Input((6, 6, 2)), Conv2D(4, 3, name="p"),
                                           BatchNormalization(name="bn"),
                                           layerc.layers.Activation("relu")]), 0)
    compiled = layerc.compile(model)
    assert _kinds(compiled.graph) == [OpKind.INPUT, OpKind.CONV]
    assert compiled.graph.node("p").attrs.activation == "relu"
    x = np.random.default_rng(0).standard_normal((3, 6, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(compiled.predict(x), layerc.ir.interpret(model.to_graph(), [x])[0],
                               rtol=1e-5, atol=1e-5)


def _unfoldable():
    x = Input((4, 6), name="x")
    d = Dense(6, name="p")(x)
    yield "two readers", layerc.Model(x, [BatchNormalization(name="bn")(d), d]), "2 readers"
    yield "an activation first", layerc.Sequential(
        [Input((4, 6)), Dense(6, activation="relu", name="p"), BatchNormalization(name="bn")]), \
        "applies relu first"
    yield "another axis", layerc.Sequential(
        [Input((4, 6)), Dense(6, name="p"), BatchNormalization(axis=1, name="bn")]), \
        "normalizes axis 1"
    yield "after an input", layerc.Sequential([Input((4, 6), name="x"),
                                               BatchNormalization(name="bn")]), "input"
    yield "after a pooling", layerc.Sequential(
        [Input((4, 6)), layerc.layers.MaxPooling1D(2), BatchNormalization(name="bn")]), "pool"


@pytest.mark.parametrize("name,model,why", list(_unfoldable()),
                         ids=[case[0] for case in _unfoldable()])
def test_what_cannot_fold_stays_and_says_why(name, model, why):
    """(After fuse-activation, so that a Dense's ReLU is its epilogue.)"""
    fused = run_pass(FuseActivation(), _statistics(model, 1).to_graph()).graph
    result = run_pass(FoldBatchNorm(), fused)
    assert result.changed == 0 and OpKind.BATCH_NORM in _kinds(result.graph)
    assert len(result.notes) == 1 and why in result.notes[0], result.notes


def test_a_shared_layer_keeps_its_weights_for_its_other_call():
    x = Input((5,), name="x")
    shared = Dense(4, name="p")
    y = BatchNormalization(name="bn")(shared(x))
    z = shared(layerc.layers.Activation("tanh")(x))
    model = _statistics(layerc.Model(x, [y, z]), 2)
    graph = model.to_graph()
    result = run_pass(FoldBatchNorm(), graph)
    assert result.changed == 1
    assert_same_numbers(graph, result.graph)
    kernels = {n.weights[0] for n in result.graph.nodes() if n.op is OpKind.DENSE}
    assert kernels == {"p/kernel", "p/kernel+bn"}


def test_golden_text_before_and_after():
    x = Input((3,), name="x")
    y = BatchNormalization(name="bn", center=False)(Dense(2, use_bias=False, name="p")(x))
    graph = _statistics(layerc.Model(x, y, name="g"), 3).to_graph()
    assert body(graph) == (
        "  %x = input() {shape=(3,), dtype='float32', batch_size=None} : f32[?,3]\n"
        "  %p = dense(%x) {units=2, use_bias=False, activation='linear'} [p/kernel: f32[3,2]]"
        " : f32[?,2]\n"
        "  %bn = batch_norm(%p) {axis=1, epsilon=0.001, center=False, scale=True, "
        "activation='linear'} [bn/gamma: f32[2], bn/moving_mean: f32[2], "
        "bn/moving_variance: f32[2]] : f32[?,2]\n"
        "  return %bn\n"
        "}\n")
    assert body(run_pass(FoldBatchNorm(), graph).graph) == (
        "  %x = input() {shape=(3,), dtype='float32', batch_size=None} : f32[?,3]\n"
        "  %p = dense(%x) {units=2, use_bias=True, activation='linear'} [p/kernel+bn: f32[3,2], "
        "p/bias+bn: f32[2]] : f32[?,2]\n"
        "  return %p\n"
        "}\n")
