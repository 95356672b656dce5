"""Embedding lookups (codegen/cpu/ops/embedding.py): a large gather is split
over layerc's threads (gather_split) and gives the serial gather's rows, an
out-of-range index a NaN row; the layer itself is checked against Keras in
tests/oracle/test_embedding.py."""

import numpy as np

from layerc.codegen.cpu.ops.embedding import SPLIT_FLOATS, gather, gather_split


def test_split_gather_matches_the_serial_one():
    rng = np.random.default_rng(0)
    vocabulary, dim = 500, 64
    count = 3 * SPLIT_FLOATS // dim + 7  # several chunks' worth, not a multiple
    table = rng.standard_normal(vocabulary * dim).astype(np.float32)
    indices = rng.integers(0, vocabulary, count).astype(np.float32)
    indices[5] = vocabulary  # out of range: a NaN row
    serial = np.full(count * dim, 3.0, np.float32)
    gather(indices, table, serial, dim)
    for chunks in (2, 3):
        split = np.full(count * dim + 1, 3.0, np.float32)
        gather_split(indices, table, split[:-1], dim, chunks)
        assert split[-1] == 3.0
        np.testing.assert_array_equal(split[:-1], serial)
    rows = serial.reshape(count, dim)
    assert np.isnan(rows[5]).all()
    np.testing.assert_array_equal(rows[6], table.reshape(vocabulary, dim)[int(indices[6])])
