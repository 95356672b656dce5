"""kernels.move: the memmove the interpreter copies inputs and outputs with
(and the copy step), against NumPy slices: disjoint, overlapping either way,
read-only sources; other array types are a typing error."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from numba.core.errors import TypingError

from layerc.codegen.cpu.kernels import move


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
