"""kernels.activate's float32 sigmoid, silu (swish), tanh and gelu, loops
LLVM vectorizes, against NumPy in float64: sigmoid and silu within 1e-6
relative over the whole float32 range (tiny sigmoids included, down to
1e-36), tanh within Eigen's bound, gelu within the rational erf's; NaN stays
NaN, infinities saturate; in place or into another array; nothing outside a
row is written."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerc.codegen.codes import ACT
from layerc.codegen.cpu.kernels import activate

EDGES = [0.0, -0.0, 1e-30, -1e-30, 1.0, -1.0, 8.0, -8.0, 17.0, -17.0, 87.0, -87.0, 88.5,
         -88.5, 89.0, -89.0, 100.0, -100.0, 1e30, -1e30]


def _want(act, x):
    x = x.astype(np.float64)
    with np.errstate(over="ignore"):
        sig = 1.0 / (1.0 + np.exp(-x))
    if act == ACT.gelu:
        return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    return {ACT.sigmoid: sig, ACT.silu: x * sig, ACT.tanh: np.tanh(x)}[act]


def _close(act, got, want, x):
    got = got.astype(np.float64)
    if act == ACT.tanh:  # Eigen's rational tanh: absolute error about 2.5e-7
        return np.abs(got - want) <= 4e-7 + 1e-6 * np.abs(want)
    if act == ACT.gelu:  # the rational erf: absolute error about 7e-8, times |x| / 2
        return np.abs(got - want) <= 1e-7 * np.abs(x) + 1e-6 * np.abs(want) + 1e-30
    # exp's argument stops at 88 (e^88 is near float32's largest): past x = -88
    # a sigmoid is below float32's normals, silu's value off by at most 4e-37
    return np.abs(got - want) <= 1e-6 * np.abs(want) + 1e-36


@pytest.mark.parametrize("act", [ACT.sigmoid, ACT.silu, ACT.tanh, ACT.gelu])
@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(-120, 120, width=32), min_size=1, max_size=40),
       rows=st.integers(1, 3), inplace=st.booleans())
def test_activation_matches_float64(act, values, rows, inplace):
    x = np.array([values + EDGES[: len(values) % 7]] * rows, np.float32)
    x[1:] *= -1
    want = _want(act, x)
    y = x if inplace else np.full_like(x, 7.0)
    activate(x, y, act)
    ok = _close(act, y, want, x)
    assert ok.all(), (x[~ok], y[~ok], want[~ok])


@pytest.mark.parametrize("act", [ACT.sigmoid, ACT.silu, ACT.tanh, ACT.gelu])
def test_nan_stays_nan_and_infinities_saturate(act):
    x = np.array([[np.nan, np.inf, -np.inf, 0.5, np.nan]], np.float32)
    y = np.empty_like(x)
    activate(x, y, act)
    assert np.isnan(y[0, [0, 4]]).all()
    want = {ACT.sigmoid: [1.0, 0.0], ACT.silu: [np.inf, np.nan], ACT.tanh: [1.0, -1.0],
            ACT.gelu: [np.inf, np.nan]}[act]
    np.testing.assert_array_equal(y[0, 1:3], np.float32(want))
    assert _close(act, y[:, 3], _want(act, x[:, 3]), x[:, 3]).all()


def test_rows_of_a_wider_array_leave_the_rest_alone():
    big = np.full((3, 10), 5.0, np.float32)
    x = big[:, 2:7]  # rows of 5 with a stride of 10
    activate(x, x, ACT.sigmoid)
    assert (big[:, :2] == 5.0).all() and (big[:, 7:] == 5.0).all()
    np.testing.assert_allclose(x, 1.0 / (1.0 + np.exp(-5.0)), rtol=1e-6)
