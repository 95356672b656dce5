"""The register-blocked GEMM (codegen/cpu/gemm.py) against NumPy in float64:
Dense shapes across tile and panel edges, and the implicit-GEMM convolution
over strides, dilations and paddings (merged and per-tap runs), with bias,
ReLU and NaN. The layers that run on it are checked against Keras in
tests/oracle; this pins the kernel itself, edge by edge."""

import re
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numba import njit

from layerc.codegen.cpu import gemm, simd
from layerc.codegen.cpu.gemm import MR, NR, WIDE, pack, pack_bias
from layerc.codegen.cpu.kernels import FAST_JIT

from kernel_helpers import conv_reference


def _weights(kernel, bias):
    packed = pack(kernel)
    return (np.concatenate([packed, pack_bias(bias)]) if bias is not None else packed), \
        (packed.size if bias is not None else -1)


def _conv(x, kernel, bias, stride, dilation, pads, relu, guard=7.0):
    batch, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    (sh, sw), (dh, dw), (pt, pb, pl, pr) = stride, dilation, pads
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    src = np.concatenate([x.reshape(-1), np.zeros(kw * c, np.float32)])
    weights, b0 = _weights(kernel.reshape(kh * kw * c, f), bias)
    out = np.full(batch * oh * ow * f + 3, guard, np.float32)  # 3 guard floats past the end
    gemm.gemm(src, 0, batch, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, x.size, weights,
              0, b0, relu, out, 0, f)
    assert np.all(out[-3:] == guard), "wrote past the output"
    return out[:-3].reshape(batch, oh, ow, f)


@given(rows=st.one_of(st.integers(1, 2), st.integers(1, 3 * MR + 1)), k=st.integers(1, 40),
       n=st.integers(1, (2 * max(WIDE.values()) + 1) * NR + 3), bias=st.booleans(),
       relu=st.booleans(), seed=st.integers(0, 2**16))
def test_dense_matches_numpy_across_tile_and_panel_edges(rows, k, n, bias, relu, seed):
    """Tiles of every row count, whole and partial panels, and one or two
    rows WIDE panels at a time (gemm.wide) with the rest one by one."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((rows, k)).astype(np.float32)
    kernel = rng.standard_normal((k, n)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    weights, b0 = _weights(kernel, b)
    out = np.full(rows * n + 3, 7.0, np.float32)
    gemm.gemm(a.reshape(-1), 0, rows, 1, 1, k, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, weights, 0, b0,
              relu, out, 0, n)
    expected = a.astype(np.float64) @ kernel + (0.0 if b is None else b)
    if relu:
        expected = np.maximum(expected, 0.0)
    np.testing.assert_allclose(out[:-3].reshape(rows, n), expected, rtol=1e-5, atol=1e-4)
    assert np.all(out[-3:] == 7.0)


@given(batch=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 3 * MR + 5),
       c=st.integers(1, 5),
       f=st.integers(1, NR + 5), kh=st.integers(1, 3), kw=st.integers(1, 3),
       stride=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       pads=st.tuples(*[st.integers(0, 2)] * 4), bias=st.booleans(), relu=st.booleans(),
       seed=st.integers(0, 2**16))
def test_implicit_gemm_conv_matches_numpy(batch, h, w, c, f, kh, kw, stride, dilation, pads,
                                          bias, relu, seed):
    (dh, dw), (pt, pb, pl, pr) = dilation, pads
    if h + pt + pb < dh * (kh - 1) + 1 or w + pl + pr < dw * (kw - 1) + 1:
        kh = kw = 1
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, h, w, c)).astype(np.float32)
    kernel = rng.standard_normal((kh, kw, c, f)).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32) if bias else None
    got = _conv(x, kernel, b, stride, dilation, pads, relu)
    np.testing.assert_allclose(got, conv_reference(x, kernel, b, stride, dilation, pads, relu),
                               rtol=1e-5, atol=1e-4)


def test_a_wide_valid_conv_takes_merged_runs_and_agrees():
    """Output rows wider than a tile, no padding across: tiles inside a row
    read each kernel row as one run of kw * c floats, and the second and
    third blocks of an interior row move the first one's offsets."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3 * MR + 4, 3)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 3, 20)).astype(np.float32)
    args = (kernel, None, (1, 1), (1, 1), (1, 1, 0, 0), False)
    np.testing.assert_allclose(_conv(x, *args), conv_reference(x, *args), rtol=1e-5, atol=1e-4)


def test_nan_propagates_through_bias_and_relu():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((MR + 1, 8)).astype(np.float32)
    a[2, 3] = np.nan
    weights, b0 = _weights(rng.standard_normal((8, 5)).astype(np.float32),
                           np.zeros(5, np.float32))
    out = np.zeros((MR + 1) * 5, np.float32)
    gemm.gemm(a.reshape(-1), 0, MR + 1, 1, 1, 8, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, weights, 0,
              b0, True, out, 0, 5)
    out = out.reshape(MR + 1, 5)
    assert np.isnan(out[2]).all()
    assert not np.isnan(np.delete(out, 2, axis=0)).any()


@pytest.mark.parametrize("rows,n", [(MR + 3, NR + 2), (1, 4 * NR), (2, 7 * NR + 2),
                                    (MR + 2, 5 * NR)])
def test_dense_rows_matches_numpy_with_a_row_stride(rows, n):
    """The serial product a recurrent step runs: rows written ldc apart (a
    last block of one or two rows runs WIDE panels at a time)."""
    rng = np.random.default_rng(2)
    k, ldc = 12, n + 9
    a = rng.standard_normal((rows, k)).astype(np.float32)
    kernel = rng.standard_normal((k, n)).astype(np.float32)
    out = np.full(rows * ldc, 5.0, np.float32)
    gemm.dense_rows(a.reshape(-1), 0, rows, k, pack(kernel), 0, out, 0, ldc, n,
                    np.empty(MR, np.int64))
    out = out.reshape(rows, ldc)
    np.testing.assert_allclose(out[:, :n], a.astype(np.float64) @ kernel, rtol=1e-5, atol=1e-4)
    assert np.all(out[:, n:] == 5.0), "wrote outside its columns"


def test_the_micro_kernel_keeps_its_tile_in_registers():
    """The full-tile kernel's loop is vector FMAs on registers: at least
    MR * 2 of them per k, and no accumulator spilled to the stack inside it."""
    tiles = sys.modules["layerc.codegen.cpu.gemm_tiles"]
    # compiled afresh: Numba cannot show the assembly of code it loaded from its cache
    kernel = njit(**{**FAST_JIT, "cache": False})(getattr(tiles, f"tile{MR}").py_func)
    a = np.ones(64, np.float32)
    offs = np.zeros(MR * 1, np.int64)
    weights = np.ones(16 * NR + NR, np.float32)
    out = np.zeros(MR * NR, np.float32)
    kernel(a, offs, 1, 16, weights, 0, out, 0, NR, MR, NR, weights, 16 * NR, True, True)
    np.testing.assert_array_equal(out, np.full(MR * NR, 17.0, np.float32))
    asm = kernel.inspect_asm(kernel.signatures[0])
    reg = "zmm" if simd.AVX512 else "ymm"
    fma = re.compile(rf"vfmadd\w*ps\s+[^\n]*%{reg}\d+, %{reg}\d+, %{reg}\d+")
    blocks = re.split(r"\n\S+:", asm)  # basic blocks, split at their labels
    hot = [b for b in blocks if len(fma.findall(b)) >= 2 * MR]
    assert hot, f"no block with {2 * MR} register FMAs on {reg}"
    for block in hot:
        spills = [line for line in block.splitlines()
                  if "(%rsp)" in line and f"%{reg}" in line]
        assert not spills, f"vector registers spilled in the FMA loop: {spills}"


def test_a_gemm_split_over_threads_matches_the_serial_one():
    """Big enough for the parallel region (gemm.SERIAL_FLOPS), panel-outer
    (weights beyond gemm.L2_WEIGHTS) and row-block-outer: same numbers as
    NumPy."""
    rng = np.random.default_rng(3)
    for rows, k, n in [(50, 300, 70), (37, 1200, 90)]:
        assert 2 * rows * k * n >= gemm.SERIAL_FLOPS
        a = rng.standard_normal((rows, k)).astype(np.float32)
        kernel = rng.standard_normal((k, n)).astype(np.float32)
        weights, b0 = _weights(kernel, rng.standard_normal(n).astype(np.float32))
        out = np.zeros(rows * n, np.float32)
        gemm.gemm(a.reshape(-1), 0, rows, 1, 1, k, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, weights, 0,
                  b0, False, out, 0, n)
        expected = a.astype(np.float64) @ kernel + weights[b0: b0 + n]
        np.testing.assert_allclose(out.reshape(rows, n), expected, rtol=1e-5, atol=2e-4)
