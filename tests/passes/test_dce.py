import layerc
from layerc.layers import Dense

from pass_helpers import assert_same_numbers, run_pass
from layerc.passes import DeadCodeElimination, DropDropout


def test_unreachable_nodes_and_their_weights_go():
    x = layerc.Input((4,), name="x")
    used = Dense(3, name="used")(x)
    graph = layerc.Model(x, used).to_graph()
    graph.add(layerc.ir.OpKind.DENSE, (graph.node("x").port(),),
                     layerc.ir.ops.core.DenseAttrs(2, use_bias=False), ("dead/kernel",), id="dead")
    graph.weights["dead/kernel"] = __import__("numpy").zeros((4, 2), "float32")
    result = run_pass(DeadCodeElimination(), graph)
    assert result.changed == 2  # one node, one weight
    assert "dead" not in result.graph
    assert "dead/kernel" not in result.graph.weights
    assert_same_numbers(graph, result.graph)


def test_inputs_stay_even_when_unused():
    a = layerc.Input((4,), name="a")
    b = layerc.Input((4,), name="b")
    graph = layerc.Model([a, b], Dense(2)(a)).to_graph()
    result = run_pass(DeadCodeElimination(), run_pass(DropDropout(), graph).graph)
    assert result.changed == 0
    assert result.graph.inputs == ["a", "b"]
