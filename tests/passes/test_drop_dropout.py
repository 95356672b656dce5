import layerc
from layerc.layers import Dense, Dropout

from pass_helpers import assert_same_numbers, body, run_pass
from layerc.passes import DropDropout


def model():
    x = layerc.Input((4,), name="x")
    h = Dropout(0.5, name="drop1")(x)
    h = Dense(3, name="d")(h)
    y = Dropout(0.1, name="drop2")(h)
    return layerc.Model(x, [y, h], name="m")


def test_drop_dropout_golden_count_and_numbers():
    graph = model().to_graph()
    result = run_pass(DropDropout(), graph)
    assert result.changed == 2
    assert body(result.graph) == (
        "  %x = input() {shape=(4,), dtype='float32', batch_size=None} : f32[?,4]\n"
        "  %d = dense(%x) {units=3, use_bias=True, activation='linear'} "
        "[d/kernel: f32[4,3], d/bias: f32[3]] : f32[?,3]\n"
        "  return %d, %d\n"
        "}\n")
    assert_same_numbers(graph, result.graph)


def test_no_dropout_no_change():
    x = layerc.Input((4,))
    graph = layerc.Model(x, Dense(2)(x)).to_graph()
    assert run_pass(DropDropout(), graph).changed == 0
