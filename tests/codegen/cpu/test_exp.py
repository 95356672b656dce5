"""The vectorized float32 exp the softmaxes use (attention's, and
`activate`'s: kernels.softmax_rows), against NumPy's exp in float64:
relative error within 3e-7 over the range a softmax gives it (shifted scores
<= 0), exact 0 for -inf and below the smallest normal; softmax_rows against
a float64 softmax, NaN, +inf and all -inf rows taking the float64 path."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from layerc.codegen.cpu.kernels import exp_shifted, softmax_rows


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.floats(-120, 30, width=32), min_size=1, max_size=40),
       top=st.floats(-5, 30, width=32))
def test_exp_shifted_matches_numpy(values, top):
    s = np.array([0.0] * 3 + values + [5.0], np.float32)  # a slice, as of a score block
    n = len(values)
    total = exp_shifted(s[3:3 + n], np.float32(top), np.empty(n, np.int32))
    x = np.array(values, np.float32) - np.float32(top)
    want = np.where(x < -87.33654, 0.0, np.exp(x.astype(np.float64)))
    got = s[3:3 + n].astype(np.float64)
    assert s[:3].tolist() == [0.0] * 3 and s[-1] == 5.0, "wrote outside the row"
    assert np.all(np.abs(got - want) <= 3e-7 * want + 1e-45), (got, want)
    assert abs(float(total) - want.sum()) <= 1e-6 * want.sum() + 1e-38


def test_exp_shifted_gives_zero_for_minus_infinity():
    s = np.array([-np.inf, 0.0, -np.inf], np.float32)
    total = exp_shifted(s, np.float32(0.0), np.empty(3, np.int32))
    assert s.tolist() == [0.0, 1.0, 0.0] and total == 1.0


def _softmax64(x):
    with np.errstate(invalid="ignore"):
        e = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


@settings(max_examples=50, deadline=None)
@given(rows=st.integers(1, 9), n=st.integers(1, 40), scale=st.floats(0.01, 30),
       seed=st.integers(0, 2**16), inplace=st.booleans())
def test_softmax_rows_matches_a_float64_softmax(rows, n, scale, seed, inplace):
    x = (np.random.default_rng(seed).standard_normal((rows, n)) * scale).astype(np.float32)
    want = _softmax64(x)
    y = x if inplace else np.empty_like(x)
    softmax_rows(x, y)
    np.testing.assert_allclose(y, want, rtol=2e-6, atol=1e-7)


def test_softmax_rows_keeps_nan_and_infinity_semantics():
    x = np.array([[0.5, np.nan, 1.0], [-np.inf] * 3, [1.0, np.inf, 0.0],
                  [2.0, -np.inf, 1.0]], np.float32)
    y = np.empty_like(x)
    softmax_rows(x, y)
    assert np.isnan(y[:3]).all()  # a NaN, no finite value, or +inf: NaN, as Keras gives
    np.testing.assert_allclose(y[3], _softmax64(x[3:])[0], rtol=2e-6)
    assert y[3, 1] == 0.0
