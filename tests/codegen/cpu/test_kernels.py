"""kernels.move: the memmove the interpreter copies inputs and outputs with
(and the copy step), against NumPy slices: disjoint, overlapping either way,
read-only sources; other array types are a typing error. kernels.plain: one
compiled copy of a kernel whatever constants its callers pass."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit, types
from numba.core.errors import TypingError

from layerc.codegen.cpu.kernels import move, plain


@njit(cache=False)
def _move(dst, at, src, src_at, n):
    move(dst, at, src, src_at, n)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300), data=st.data(), same=st.booleans())
def test_move_copies_like_a_slice(size, data, same):
    n = data.draw(st.integers(0, size))
    at, src_at = data.draw(st.integers(0, size - n)), data.draw(st.integers(0, size - n))
    dst = np.arange(size, dtype=np.float32)
    src = dst if same else -np.arange(size, dtype=np.float32)
    want = dst.copy()
    want[at:at + n] = src[src_at:src_at + n].copy()  # memmove: as if through a buffer
    _move(dst, at, src, src_at, n)
    np.testing.assert_array_equal(dst, want)


def test_move_reads_a_read_only_source():
    src = np.arange(8, dtype=np.float32)
    src.flags.writeable = False
    dst = np.zeros(8, np.float32)
    _move(dst, 2, src, 1, 4)
    assert dst.tolist() == [0, 0, 1, 2, 3, 4, 0, 0]


@pytest.mark.parametrize("dst,src", [
    (np.zeros(4), np.zeros(4, np.float32)),  # float64 destination
    (np.zeros(4, np.float32), np.zeros((2, 2), np.float32)),  # 2-D source
    (np.zeros(4, np.float32), np.zeros(8, np.float32)[::2]),  # strided source
])
def test_move_refuses_other_arrays(dst, src):
    with pytest.raises(TypingError):
        _move(dst, 0, src, 0, 1)


def test_move_never_writes_into_a_read_only_destination():
    dst = np.zeros(4, np.float32)
    dst.flags.writeable = False
    with pytest.raises(TypingError):
        _move(dst, 0, np.ones(4, np.float32), 0, 1)


def _scaled_sum():
    @njit(cache=False)
    def scaled_sum(x, scale, offset):
        total = 0.0
        for v in x:
            total += v * scale
        return total + offset
    return scaled_sum


def _callers(kernel):
    @njit(cache=False)
    def by_two(x):
        return kernel(x, 2.0, 1)

    @njit(cache=False)
    def by_three(x):
        return kernel(x, 3.0, offset=-1)
    return by_two, by_three


@pytest.mark.parametrize("wrap", [False, True])
def test_plain_compiles_one_copy_whatever_constants_its_callers_pass(wrap):
    kernel = plain(_scaled_sum()) if wrap else _scaled_sum()
    by_two, by_three = _callers(kernel)
    x = np.arange(5, dtype=np.float32)
    assert by_two(x) == 2.0 * x.sum() + 1
    assert by_three(x) == 3.0 * x.sum() - 1
    literal = [any(isinstance(t, types.Literal) for t in sig) for sig in kernel.signatures]
    # Numba's own way: a copy per set of constants, typed as literals
    assert literal == ([False] if wrap else [True, True])
