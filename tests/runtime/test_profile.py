"""CompiledModel.profile: a row per node that runs plan rows, times that add
up, rates that follow from the op rules' FLOPs, states left alone."""

import numpy as np
import pytest

import layerc
from layerc import InputError
from layerc.layers import GRU, Activation, Add, Conv2D, Dense, Flatten, Input, MaxPooling2D
from layerc.runtime.profile import NodeTime, Profile, node_flops


def functional_model():
    a = Input((8, 8, 3), name="a")
    b = Input((4,), name="b")
    x = Conv2D(4, (3, 3), activation="relu", name="conv")(a)
    x = MaxPooling2D((2, 2), name="pool")(x)
    x = Flatten(name="flat")(x)  # a view: no plan rows
    x = Dense(4, name="d1")(x)
    y = Activation("tanh", name="act")(Add(name="add")([x, b]))  # not fusable after a merge
    return layerc.Model([a, b], Dense(2, activation="softmax", name="head")(y), name="small")


def inputs(batch, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, 8, 8, 3)).astype(np.float32),
            rng.normal(size=(batch, 4)).astype(np.float32)]


@pytest.fixture(scope="module")
def compiled():
    return layerc.compile(functional_model())


@pytest.fixture(scope="module")
def profile(compiled):
    return compiled.profile(inputs(5), rounds=4)


def listed_nodes(program_text):
    """Node ids in the order the listing's rows name them, each once."""
    rows = [line.rpartition("; %")[2].strip() for line in program_text.splitlines()
            if not line.startswith(";") and "; %" in line]
    return list(dict.fromkeys(rows))


def test_one_row_per_node_that_runs_plan_rows(compiled, profile):
    assert isinstance(profile, Profile) and all(isinstance(r, NodeTime) for r in profile.rows)
    assert [r.node for r in profile.rows] == listed_nodes(compiled.program.text)
    # the max pooling runs inside the convolution's step (codegen/cpu/fusion.py): no row
    assert [r.node for r in profile.rows] == ["conv", "d1", "add", "act", "head"]
    text = compiled.program.text
    assert [r.steps for r in profile.rows] == [text.count(f"; %{r.node}\n")
                                               for r in profile.rows]
    ops = {r.node: r.op for r in profile.rows}
    assert ops["head"] == "dense+softmax" and ops["d1"] == "dense" and ops["act"] == "activation"
    assert ops["conv"] == "conv+relu"
    assert {r.node: r.layer for r in profile.rows}["conv"] == "conv (Conv2D)"


def test_times_are_non_negative_and_shares_sum_to_100(profile):
    assert profile.batch == 5 and profile.rounds == 4 and profile.target == "cpu"
    assert all(r.time_us >= 0 for r in profile.rows)
    assert profile.total_us == pytest.approx(sum(r.time_us for r in profile.rows))
    assert sum(r.share for r in profile.rows) == pytest.approx(100.0)
    for r in profile.rows:
        assert r.share == pytest.approx(100 * r.time_us / profile.total_us)
    assert profile.overhead_us >= 0 and profile.whole_us >= 0


def test_rates_follow_from_the_rules_flops_and_the_times(compiled, profile):
    graph = compiled.graph
    for r in profile.rows:
        node = graph.node(r.node)
        assert r.flops == 5 * node_flops(graph, node)
        if r.flops and r.time_us > 0:
            assert r.gflops == pytest.approx(r.flops / (r.time_us * 1e3))
            assert r.peak_share == pytest.approx(100 * r.gflops / profile.peak_gflops)
        else:
            assert r.gflops is None and r.peak_share is None
    conv = next(r for r in profile.rows if r.node == "conv")
    assert conv.flops == 5 * 2 * (3 * 3 * 3 * 4) * (6 * 6)  # taps x in x filters, 6x6 out
    assert profile.peak_gflops is not None and profile.peak_gflops > 0
    assert "sgemm" in profile.peak_how


def test_the_time_lands_on_the_node_that_spends_it():
    """A large Dense beside a small element-wise op: the Dense's row gets
    nearly all of the time (a row-to-node mix-up would not)."""
    x = Input((1024,))
    y = Activation("relu", name="small")(Dense(1024, name="big")(x))
    y = Add(name="tiny")([y, y])
    model = layerc.Model(x, y)
    compiled = layerc.compile(model)
    profile = compiled.profile(np.ones((64, 1024), np.float32), rounds=5)
    shares = {r.node: r.share for r in profile.rows}
    assert set(shares) == {"big", "tiny"}  # the relu is fused into the Dense
    assert shares["big"] > 80 and shares["tiny"] < 20


def test_the_table_shows_every_node_and_the_peak(profile):
    table = str(profile)
    assert table == profile.table()
    lines = table.splitlines()
    assert lines[0] == "profile of small on cpu, batch 5: median of 4 rounds per node"
    assert lines[1].startswith("peak: ") and "GFLOP/s" in lines[1]
    head = next(i for i, line in enumerate(lines) if line.startswith("node "))
    assert lines[head].split() == ["node", "op", "layer", "time", "us", "share", "GFLOP/s",
                                   "%", "peak"]
    body = lines[head + 1: head + 1 + len(profile.rows)]
    assert [line.split()[0] for line in body] == [f"%{r.node}" for r in profile.rows]
    assert lines[head + 1 + len(profile.rows)].startswith("total")
    # numbers are right-aligned under their heading, names left-aligned
    time_end = lines[head].index("time us") + len("time us")
    layer_at = lines[head].index("layer")
    for line, r in zip(body, profile.rows):
        cell = f"{r.time_us:,.1f}"
        assert line[time_end - len(cell): time_end] == cell
        assert line[layer_at:].startswith(r.layer)


def test_profile_leaves_a_stateful_models_states_as_they_were():
    model = layerc.Sequential([Input((3, 2), batch_size=2), GRU(4, stateful=True, name="gru"),
                               Dense(1)])
    compiled = layerc.compile(model)
    twin = layerc.compile(model)
    x = np.random.default_rng(1).normal(size=(2, 3, 2)).astype(np.float32)
    compiled.predict(x)
    twin.predict(x)
    before = compiled.layer_states("gru")[0]
    assert np.abs(before).max() > 0
    profile = compiled.profile(x, rounds=3)
    assert [r.node for r in profile.rows][0].startswith("gru")
    np.testing.assert_array_equal(compiled.layer_states("gru")[0], before)
    np.testing.assert_array_equal(compiled.predict(x), twin.predict(x))
    with pytest.raises(InputError, match="exactly 2 samples"):
        compiled.profile(np.concatenate([x, x]))


def test_bad_rounds_and_inputs_are_input_errors(compiled):
    with pytest.raises(InputError, match="rounds must be a positive int"):
        compiled.profile(inputs(2), rounds=0)
    with pytest.raises(InputError, match="takes 2 input"):
        compiled.profile(inputs(2)[0])
