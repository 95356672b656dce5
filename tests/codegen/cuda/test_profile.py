"""CompiledModel.profile on target cuda (under the simulator unless
LAYERC_CUDA_DEVICE=1): each node's kernel launches are timed until the
device finishes them; no peak is claimed, since the sgemm peak measured is
the CPU's."""

import numpy as np
import pytest

import layerc
from layerc.layers import GRU, Activation, Add, Dense, Input
from layerc.models import Model, Sequential


def test_a_row_per_node_with_its_launches_and_no_peak():
    x = Input((5,))
    h = Dense(4, activation="relu", name="d1")(x)
    y = Activation("tanh", name="act")(Add(name="add")([h, h]))
    compiled = layerc.compile(Model(x, y, name="tiny"), target="cuda")
    profile = compiled.profile(np.ones((2, 5), np.float32), rounds=2)
    assert profile.target == "cuda" and profile.batch == 2
    assert [r.node for r in profile.rows] == ["d1", "add", "act"]
    text = compiled.program.text
    assert [r.steps for r in profile.rows] == [text.count(f"; %{r.node}\n")
                                               for r in profile.rows]
    assert all(r.time_us >= 0 and r.peak_share is None for r in profile.rows)
    assert sum(r.share for r in profile.rows) == pytest.approx(100.0)
    assert profile.peak_gflops is None
    assert "not measured for target 'cuda'" in profile.table()


def test_profile_leaves_the_device_states_as_they_were():
    model = Sequential([GRU(3, stateful=True, name="rnn", batch_input_shape=(2, 3, 2))])
    compiled = layerc.compile(model, target="cuda")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 2)).astype(np.float32)
    compiled.predict(x)
    before = compiled.layer_states("rnn")[0]
    assert np.abs(before).max() > 0
    compiled.profile(x, rounds=2)
    np.testing.assert_array_equal(compiled.layer_states("rnn")[0], before)
