"""Element-wise merges on the CPU (codegen/cpu/ops/merge.py): a merge of at
least SERIAL_VALUES values runs split over the thread team; every op, both
thread counts, sizes on both sides of the threshold and not a multiple of the
chunks, NaN in either input, against NumPy."""

import numpy as np
import pytest

import layerc
from layerc.codegen.cpu.ops.merge import SERIAL_VALUES
from layerc.layers import Add, Input, Maximum, Minimum, Multiply, Subtract

OPS = {Add: np.add, Subtract: np.subtract, Multiply: np.multiply, Maximum: np.maximum,
       Minimum: np.minimum}


@pytest.mark.parametrize("merge", list(OPS), ids=lambda m: m.__name__)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 3])
def test_a_large_merge_split_over_the_threads_matches_numpy(merge, threads, batch):
    features = SERIAL_VALUES // 2 + 7  # batch 3: above the threshold, batch 1 below
    a, b = Input((features,), name="a"), Input((features,), name="b")
    compiled = layerc.compile(layerc.Model([a, b], merge(name="merge")([a, b])),
                              threads=threads)
    rng = np.random.default_rng(batch)
    x, y = rng.standard_normal((2, batch, features)).astype(np.float32)
    x[0, 5], y[-1, -3] = np.nan, np.nan
    np.testing.assert_array_equal(compiled.predict([x, y]), OPS[merge](x, y))
