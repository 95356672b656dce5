"""Channels-last max pooling, windowed and global, runs a SIMD vector of
channels at a time (codegen/cpu/ops/pool.py: max_pool_last, max_over_rows):
checked against NumPy across channel counts below, at and past the vector
width, with padding, and with NaN, which must win wherever it is in a
window."""

import numpy as np
import pytest

from layerc.codegen.cpu.ops.pool import global_pool, max_pool_last
from layerc.codegen.cpu.simd import WIDTH


def _reference(x, kh, kw, sh, sw, pt, pb, pl, pr):
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-np.inf)
    b, hp, wp, c = xp.shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.empty((b, oh, ow, c), np.float32)
    for i in range(oh):
        for j in range(ow):
            window = xp[:, i * sh: i * sh + kh, j * sw: j * sw + kw].reshape(b, -1, c)
            out[:, i, j] = np.where(np.isnan(window).any(axis=1), np.nan, window.max(axis=1))
    return out


@pytest.mark.parametrize("c", [1, WIDTH - 1, WIDTH, 2 * WIDTH + 3])
@pytest.mark.parametrize("geometry", [(2, 2, 2, 2, 0, 0, 0, 0), (3, 3, 1, 1, 1, 1, 1, 1),
                                      (3, 2, 2, 1, 1, 1, 0, 1)])
def test_max_pool_last_matches_numpy_with_nan(c, geometry):
    kh, kw, sh, sw, pt, pb, pl, pr = geometry
    rng = np.random.default_rng(c)
    x = rng.standard_normal((2, 7, 6, c)).astype(np.float32)
    x[0, 3, 2, c // 2] = np.nan
    x[1, 0, 0, c - 1] = np.nan
    expected = _reference(x, kh, kw, sh, sw, pt, pb, pl, pr)
    out = np.full(expected.size + 2, 9.0, np.float32)
    max_pool_last(x.reshape(-1), out, 2, 7, 6, c, expected.shape[1], expected.shape[2], kh, kw,
                  sh, sw, pt, pl)
    assert np.all(out[-2:] == 9.0)
    np.testing.assert_array_equal(out[:-2].reshape(expected.shape), expected)
    assert np.isnan(expected).any()


@pytest.mark.parametrize("c", [1, WIDTH - 1, WIDTH, 2 * WIDTH + 3])
def test_global_max_pool_last_matches_numpy_with_nan(c):
    rng = np.random.default_rng(c)
    x = rng.standard_normal((3, 5, c)).astype(np.float32)
    x[1, 4, c // 2] = np.nan
    x[2, 0, c - 1] = np.nan
    expected = np.where(np.isnan(x).any(axis=1), np.nan, x.max(axis=1))
    out = np.full(3 * c + 2, 9.0, np.float32)
    global_pool(x.reshape(-1), out, 3, 5, c, False, True, np.zeros(0, np.float32))
    assert np.all(out[-2:] == 9.0)
    np.testing.assert_array_equal(out[:-2].reshape(3, c), expected)
    assert np.isnan(expected).any()
