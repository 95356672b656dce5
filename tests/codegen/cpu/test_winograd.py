"""Winograd F(2x2, 3x3) (codegen/cpu/winograd.py) against NumPy in float64:
odd and even maps (a last tile half outside), 'same' and 'valid' pads,
channel counts across vector edges, several blocks and both threads, bias,
ReLU and NaN, and the 2x2 max pooling fused into its output transform.
Conv2D layers that run on it are checked against Keras in
tests/oracle/test_conv_layers.py."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import layerc
from layerc import layers as L
from layerc.codegen.cpu import gemm, winograd

from kernel_helpers import conv_reference

GUARD = 7.0


def _winograd(x, kernel, bias, same, relu, pool=False):
    """The kernel's output (with `pool`, its fused 2x2 max pooling) and the pads."""
    batch, h, w, c = x.shape
    f = kernel.shape[3]
    pad = 1 if same else 0
    oh, ow = h + 2 * pad - 2, w + 2 * pad - 2
    shape = (batch, oh // 2, ow // 2, f) if pool else (batch, oh, ow, f)
    packed = winograd.pack_kernel(kernel)
    weights = np.concatenate([packed, gemm.pack_bias(bias)]) if bias is not None else packed
    src = np.concatenate([x.reshape(-1), np.full(np.prod(shape) + 3, GUARD, np.float32)])
    winograd.winograd(src, 0, batch, h, w, c, oh, ow, pad, pad, weights, 0,
                      packed.size if bias is not None else -1, relu, src, x.size, f, pool)
    assert np.all(src[-3:] == GUARD), "wrote past the output"
    assert np.array_equal(src[:x.size], x.reshape(-1), equal_nan=True), "wrote into the input"
    return src[x.size:-3].reshape(shape), (pad, pad, pad, pad)


def _max_pool_2x2(y):
    """NumPy's 2x2 max pooling, strides 2, the odd last row and column
    dropped; NaN wins (np.max propagates it)."""
    b, h, w, f = y.shape
    return y[:, :h // 2 * 2, :w // 2 * 2].reshape(b, h // 2, 2, w // 2, 2, f).max(axis=(2, 4))


def _data(seed, batch, h, w, c, f, bias):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch, h, w, c)).astype(np.float32)
    kernel = (rng.standard_normal((3, 3, c, f)) / np.sqrt(9 * c)).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32) if bias else None
    return x, kernel, b


@given(batch=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       c=st.integers(1, 2 * winograd.W + 3), f=st.integers(1, 2 * gemm.NR + 3),
       same=st.booleans(), bias=st.booleans(), relu=st.booleans(), seed=st.integers(0, 2**16))
def test_winograd_matches_the_direct_sum(batch, h, w, c, f, same, bias, relu, seed):
    if not same:  # a valid 3x3 window needs 3 rows and columns
        h, w = h + 2, w + 2
    x, kernel, b = _data(seed, batch, h, w, c, f, bias)
    got, pads = _winograd(x, kernel, b, same, relu)
    expect = conv_reference(x, kernel, b, (1, 1), (1, 1), pads, relu)
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)


@given(batch=st.integers(1, 3), h=st.integers(2, 11), w=st.integers(2, 11),
       c=st.integers(1, 2 * winograd.W + 3), f=st.integers(1, 2 * gemm.NR + 3),
       same=st.booleans(), bias=st.booleans(), relu=st.booleans(), seed=st.integers(0, 2**16))
def test_the_fused_2x2_max_pooling_pools_the_direct_sum(batch, h, w, c, f, same, bias, relu,
                                                        seed):
    """Odd maps drop their last row and column, as MaxPooling2D(2) does."""
    if not same:
        h, w = h + 2, w + 2
    x, kernel, b = _data(seed, batch, h, w, c, f, bias)
    got, pads = _winograd(x, kernel, b, same, relu, pool=True)
    expect = _max_pool_2x2(conv_reference(x, kernel, b, (1, 1), (1, 1), pads, relu))
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)


def test_nan_wins_in_the_fused_pooling():
    x, kernel, b = _data(3, 2, 9, 9, 8, gemm.NR + 3, True)
    x[1, 4, 6, 2] = np.nan
    got, pads = _winograd(x, kernel, b, False, True, pool=True)
    expect = _max_pool_2x2(conv_reference(x, kernel, b, (1, 1), (1, 1), pads, True))
    assert np.isnan(expect).any() and not np.isnan(expect).all()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))


def test_many_blocks_on_both_threads():
    """More tiles than a block holds (winograd.block_tiles), split over a
    team of two threads, channels past whole vectors: the same numbers as
    one thread."""
    x, kernel, b = _data(1, 3, 17, 19, 33, 40, True)
    tiles = 3 * 9 * 10
    assert tiles > winograd.block_tiles(winograd.padded.py_func(33), gemm.panels(40) * gemm.NR,
                                        tiles, 2)
    one, pads = _winograd(x, kernel, b, True, True)
    conv = L.Conv2D(40, 3, padding="same", activation="relu", name="conv")
    model = layerc.Sequential([L.Input((17, 19, 33)), conv])
    conv.set_weights([kernel, b])
    compiled = layerc.compile(model, threads=2)
    assert compiled.graph.node("conv").attrs.variant == "winograd"
    np.testing.assert_allclose(one, conv_reference(x, kernel, b, (1, 1), (1, 1), pads, True),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(compiled.predict(x), one)


def test_nan_reaches_exactly_the_outputs_that_read_it():
    """Winograd mixes a tile's pixels, yet a NaN input pixel must spoil only
    the outputs whose 3x3 window holds it, as in the direct sum."""
    x, kernel, b = _data(2, 1, 8, 8, 8, 8, True)
    for at in [(0, 0), (3, 3), (4, 5), (7, 7)]:
        xn = x.copy()
        xn[0, at[0], at[1], 3] = np.nan
        got, pads = _winograd(xn, kernel, b, False, False)
        expect = conv_reference(xn, kernel, b, (1, 1), (1, 1), pads, False)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
        assert np.isnan(got).any()


@pytest.mark.parametrize("tiles,threads", [(36, 2), (49, 2), (7, 2), (36, 1), (10_000, 2)])
def test_blocks_fit_l2_and_give_every_thread_one(tiles, threads):
    fit = winograd.block_tiles.py_func(32, 64, 10**9, 1)  # as many as L2 keeps
    assert 16 * fit * (32 + 64) * 4 <= winograd.BLOCK_BYTES
    tb = winograd.block_tiles.py_func(32, 64, tiles, threads)
    assert tb % gemm.MR == 0 and tb <= fit
    if tiles >= threads * gemm.MR:
        assert -(-tiles // tb) >= threads
