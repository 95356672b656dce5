import layerc
from layerc.layers import Activation, Add, Dense

from pass_helpers import assert_same_numbers, body, run_pass
from layerc.passes import FuseActivation


def test_in_layer_and_separate_activations_fuse():
    x = layerc.Input((4,), name="x")
    h = Dense(3, activation="relu", name="d1")(x)
    y = Activation("softmax", name="a")(Dense(2, name="d2")(h))
    graph = layerc.Model(x, y, name="m").to_graph()
    result = run_pass(FuseActivation(), graph)
    assert result.changed == 2
    assert body(result.graph) == (
        "  %x = input() {shape=(4,), dtype='float32', batch_size=None} : f32[?,4]\n"
        "  %d1 = dense(%x) {units=3, use_bias=True, activation='relu'} "
        "[d1/kernel: f32[4,3], d1/bias: f32[3]] : f32[?,3]\n"
        "  %d2 = dense(%d1) {units=2, use_bias=True, activation='softmax'} "
        "[d2/kernel: f32[3,2], d2/bias: f32[2]] : f32[?,2]\n"
        "  return %d2\n"
        "}\n")
    assert_same_numbers(graph, result.graph)


def test_no_fusion_when_the_producer_has_other_readers():
    x = layerc.Input((4,), name="x")
    h = Dense(3, name="d")(x)
    y = Add(name="add")([Activation("tanh", name="a")(h), h])
    result = run_pass(FuseActivation(), layerc.Model(x, y).to_graph())
    assert result.changed == 0
    assert result.notes == ("%a: not fused: producer %d has 2 readers",)


def test_no_fusion_when_the_producer_is_an_output_or_has_no_epilogue():
    x = layerc.Input((4,), name="x")
    h = Dense(3, name="d")(x)
    a = Activation("tanh", name="a")(h)
    b = Activation("relu", name="b")(x)
    result = run_pass(FuseActivation(), layerc.Model(x, [a, h, b]).to_graph())
    assert result.changed == 0
    assert result.notes == ("%a: not fused: producer %d has 2 readers",
                            "%b: not fused: producer %x is input, which has no epilogue")


def test_second_activation_does_not_fuse_into_an_activated_producer():
    x = layerc.Input((4,), name="x")
    y = Activation("tanh", name="a")(Dense(3, activation="relu", name="d")(x))
    graph = layerc.Model(x, y).to_graph()
    once = run_pass(FuseActivation(), graph)
    assert once.changed == 1
    assert once.notes == ("%a: not fused: producer %d already applies relu",)
    assert_same_numbers(graph, once.graph)


def test_conv_and_locally_connected_take_activation_epilogues():
    from layerc.layers import Conv2D, LocallyConnected1D
    x = layerc.Input((6, 6, 2), name="x")
    h = Conv2D(3, 3, activation="relu", name="conv")(x)
    y = Activation("softmax", name="sm")(h)
    graph = layerc.Model(x, y).to_graph()
    result = run_pass(FuseActivation(), graph)
    assert result.changed == 1  # relu fused; softmax can't follow an activated conv
    assert "activation='relu'" in body(result.graph)
    s = layerc.Input((5, 3), name="s")
    local_graph = layerc.Model(s, LocallyConnected1D(2, 2, activation="tanh")(s)).to_graph()
    fused = run_pass(FuseActivation(), local_graph)
    assert fused.changed == 1 and "activation='tanh'" in body(fused.graph)
    assert_same_numbers(graph, result.graph)
    assert_same_numbers(local_graph, fused.graph)
