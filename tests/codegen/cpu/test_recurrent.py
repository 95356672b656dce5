"""The recurrent layers' batch slices (codegen/cpu/ops/recurrent.py): four
slices of whole row tiles per thread once the batch is large enough, every
row in exactly one slice; a large masked batch gives the reference
interpreter's numbers on one thread and on all of them."""

import numba
import numpy as np
import pytest

import layerc
from layerc import layers as L
from layerc.codegen.cpu.gemm import MR
from layerc.codegen.cpu.ops.recurrent import _slice


@pytest.mark.parametrize("batch, chunks", [(64, 4), (64, 8), (50, 8), (48, 8), (9, 2), (3, 3),
                                           (100, 6)])
def test_slices_cover_every_row_once(batch, chunks):
    blocks = -(-batch // MR)
    rows = [_slice(ci, chunks, batch, blocks) for ci in range(chunks)]
    assert rows[0][0] == 0 and rows[-1][1] == batch
    for (_, hi), (lo, _) in zip(rows, rows[1:]):
        assert hi == lo
    if blocks > chunks:  # whole tiles but the last slice's end
        assert all(lo % MR == 0 for lo, _ in rows)


def test_a_large_masked_batch_matches_the_reference_on_every_thread_count():
    model = layerc.Sequential([
        L.Input((12,), dtype="int32"), L.Embedding(30, 8, mask_zero=True),
        L.GRU(10, return_sequences=True), L.LSTM(7), L.Dense(3)])
    rng = np.random.default_rng(5)
    x = rng.integers(1, 30, (53, 12)).astype(np.int32)
    for b in range(53):
        x[b, : rng.integers(0, 12)] = 0  # masked steps at the front
    expected = layerc.ir.interpret(model.to_graph(), [x.astype(np.float32)])[0]
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        got = layerc.compile(model, threads=threads).predict(x)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
