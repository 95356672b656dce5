"""The vectorized float32 exp the attention softmax uses, against NumPy's
exp in float64: relative error within 3e-7 over the range a softmax gives
it (shifted scores <= 0), exact 0 for -inf and below the smallest normal."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from layerc.codegen.cpu.kernels import exp_shifted


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.floats(-120, 30, width=32), min_size=1, max_size=40),
       top=st.floats(-5, 30, width=32))
def test_exp_shifted_matches_numpy(values, top):
    s = np.array([0.0] * 3 + values, np.float32)  # at an offset, as in a score block
    n = len(values)
    total = exp_shifted(s, 3, n, np.float32(top), np.empty(n, np.int32))
    x = np.array(values, np.float32) - np.float32(top)
    want = np.where(x < -87.33654, 0.0, np.exp(x.astype(np.float64)))
    got = s[3:].astype(np.float64)
    assert np.all(np.abs(got - want) <= 3e-7 * want + 1e-45), (got, want)
    assert abs(float(total) - want.sum()) <= 1e-6 * want.sum() + 1e-38


def test_exp_shifted_gives_zero_for_minus_infinity():
    s = np.array([-np.inf, 0.0, -np.inf], np.float32)
    total = exp_shifted(s, 0, 3, np.float32(0.0), np.empty(3, np.int32))
    assert s.tolist() == [0.0, 1.0, 0.0] and total == 1.0
