"""The steps each node lowers to (`Program.spans`), and running them one
node at a time (`Program.stepper`), which is what profiles time."""

import numpy as np
import pytest

import layerc
from layerc.codegen import build
from layerc.layers import LSTM, Concatenate, Conv1D, Dense, Embedding, Flatten, Input


def model():
    tokens = Input((6,), dtype="int32", name="tokens")
    extra = Input((3,), name="extra")
    x = Embedding(20, 4, name="emb")(tokens)
    seq = LSTM(5, name="lstm")(x)
    conv = Flatten(name="flat")(Conv1D(2, 3, activation="relu", name="conv")(x))
    y = Concatenate(name="cat")([seq, conv, extra])
    return layerc.Model([tokens, extra], Dense(2, name="head")(y), name="spans")


@pytest.fixture(scope="module")
def compiled():
    return layerc.compile(model())


def test_spans_tile_the_plan_in_order_and_name_the_rows_node(compiled):
    program = compiled.program
    rows = [line for line in program.text.splitlines()
            if not line.startswith(";") and "; %" in line]
    assert len(rows) == program.plan.shape[0]
    stops = [0] + [stop for _, _, stop in program.spans]
    assert [start for _, start, _ in program.spans] == stops[:-1]
    assert stops[-1] == len(rows)
    for node, start, stop in program.spans:
        assert stop > start
        assert all(line.endswith(f"; %{node}") for line in rows[start:stop])
    nodes = [node for node, _, _ in program.spans]
    assert len(nodes) == len(set(nodes))
    assert "flat" not in nodes and "tokens" not in nodes  # a view and an input: no rows


def test_running_the_spans_one_by_one_gives_predicts_outputs(compiled):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 20, size=(3, 6)).astype(np.float32)
    extra = rng.normal(size=(3, 3)).astype(np.float32)
    want = compiled.predict([tokens, extra])
    program = compiled.program
    run_steps = program.stepper([tokens, extra], 3)
    for _, start, stop in program.spans:
        run_steps(start, stop)
    run_steps(0, 0)  # an empty range runs nothing
    arena = program.arenas.get(program.arena_size, 3)
    (out,) = program.outputs
    got = arena[out.offset * 3: out.offset * 3 + 3 * out.size].reshape(3, *out.shape)
    np.testing.assert_array_equal(got, want)


def test_the_spans_of_a_graph_are_those_of_its_rebuilt_program(compiled):
    """An artifact rebuilds its program from the graph: the spans come back."""
    assert build(compiled.graph, "cpu").spans == compiled.program.spans
