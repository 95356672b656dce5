import layerc
from layerc.layers import Dense, Flatten, Reshape

from pass_helpers import assert_same_numbers, body, run_pass
from layerc.passes import FoldReshape


def test_reshape_chain_becomes_one_view():
    x = layerc.Input((12,), name="x")
    h = Reshape((3, 4), name="r1")(x)
    h = Reshape((-1, 2, 2), name="r2")(h)
    y = Flatten(name="f")(h)
    graph = layerc.Model(x, y, name="m").to_graph()
    result = run_pass(FoldReshape(), graph)
    # three rewrites to views, then two view-of-view collapses
    assert result.changed == 5
    assert body(result.graph) == (
        "  %x = input() {shape=(12,), dtype='float32', batch_size=None} : f32[?,12]\n"
        "  %f = view(%x) {shape=(12,)} : f32[?,12]\n"
        "  return %f\n"
        "}\n")
    assert_same_numbers(graph, result.graph)


def test_flatten_channels_first_is_a_transpose_then_a_view():
    x = layerc.Input((2, 3, 4), name="x")
    y = Dense(5, name="d")(Flatten(data_format="channels_first", name="f")(x))
    graph = layerc.Model(x, y, name="m").to_graph()
    result = run_pass(FoldReshape(), graph)
    assert result.changed == 1
    assert body(result.graph).splitlines()[1:3] == [
        "  %f.transpose = transpose(%x) {perm=(0, 2, 3, 1)} : f32[?,3,4,2]",
        "  %f = view(%f.transpose) {shape=(24,)} : f32[?,24]",
    ]
    assert_same_numbers(graph, result.graph)


def test_flatten_channels_last_is_only_a_view():
    x = layerc.Input((2, 3), name="x")
    y = Flatten(data_format="channels_last", name="f")(x)
    result = run_pass(FoldReshape(), layerc.Model(x, y).to_graph())
    assert result.changed == 1
    assert "transpose" not in body(result.graph)


def test_nothing_to_fold():
    x = layerc.Input((3,))
    assert run_pass(FoldReshape(), layerc.Model(x, Dense(2)(x)).to_graph()).changed == 0


def test_flatten_after_a_channels_first_conv():
    from layerc.layers import Conv2D
    x = layerc.Input((2, 5, 5), name="x")
    h = Conv2D(3, 2, data_format="channels_first", name="c")(x)
    y = Flatten(data_format="channels_first", name="f")(h)
    graph = layerc.Model(x, y).to_graph()
    result = run_pass(FoldReshape(), graph)
    assert "%f.transpose = transpose(%c) {perm=(0, 2, 3, 1)}" in body(result.graph)
    assert_same_numbers(graph, result.graph)
