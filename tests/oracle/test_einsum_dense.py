"""EinsumDense against Keras 3: the equations Keras's own layers use and
general ones that are a Dense after a transposition (the kernel's axes in
any order, the contracted axes anywhere in the input), with and without
bias axes and activations, through the reference interpreter, the compiled
model and from_keras; the equations layerc refuses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.errors import ConfigError

ATOL = 2e-5
SWEEP = settings(max_examples=20, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

# (equation, input shape without the batch, output_shape, bias_axes choices)
CASES = [
    ("ab,bc->ac", (5,), (4,), (None, "c")),
    ("abc,cd->abd", (3, 5), (None, 4), (None, "d")),
    ("abc,cde->abde", (3, 5), (None, 2, 3), (None, "de", "e")),
    ("abcd,cde->abe", (3, 2, 4), (None, 5), (None, "e")),
    ("bqm,muh->bquh", (3, 4), (None, 2, 3), (None, "uh")),
    ("...b,bc->...c", (2, 3, 5), (4,), (None, "c")),
    ("abc,bd->acd", (3, 5), (5, 4), (None, "d")),  # contracts a middle axis
    ("abc,dc->abd", (3, 5), (None, 4), (None, "d")),  # the kernel's own axis first
    ("abcd,ceb->ade", (3, 2, 4), (4, 6), (None, "e")),
]


@SWEEP
@given(case=st.sampled_from(CASES), bias=st.integers(0, 2),
       activation=st.sampled_from([None, "relu", "tanh"]), seed=st.integers(0, 2**32 - 1))
def test_einsum_dense_matches_keras(oracle, case, bias, activation, seed):
    equation, shape, output_shape, biases = case
    bias_axes = biases[bias % len(biases)]

    def build(ns):
        x = ns.Input(shape)
        y = ns.layers.EinsumDense(equation, output_shape, activation=activation,
                                  bias_axes=bias_axes, name="ed")(x)
        return ns.Model(x, y)

    model, kmodel = build(layerc), build(oracle.keras)
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng)
    x = rng.uniform(-2, 2, (3, *shape)).astype(np.float32)
    out = oracle.check(model, kmodel, [x], atol=ATOL, rtol=1e-5)
    converted = layerc.compile(layerc.from_keras(kmodel)).predict(x)
    oracle.assert_close(converted, out.keras[0], "from_keras", ATOL, 1e-5)
    for ours, theirs in zip(model.get_layer("ed").get_weights(),
                            kmodel.get_layer("ed").get_weights()):
        np.testing.assert_array_equal(ours, np.asarray(theirs))


@pytest.mark.parametrize("equation, output_shape, bias_axes, words", [
    ("abc,cd->adb", (4, None), None, "is not a Dense"),  # kept and own axes interleaved
    ("abc,bcd->abd", (None, 4), None, "is not a Dense"),  # b in all three: a batched product
    ("abc,cd->ad", (4,), None, "is not a Dense"),  # b summed away
    ("abc,cd->abd", (None, 4), "b", "bias over the kernel's own axes"),
    ("abc,cd->abd", (None, 4, 2), None, "must have 2 axes"),
    ("ab,bc", (4,), None, "is not of the form"),
])
def test_refusals(equation, output_shape, bias_axes, words):
    x = layerc.Input((3, 5))
    with pytest.raises(ConfigError if words != "must have 2 axes" else layerc.ShapeError,
                       match=words):
        layerc.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes)(x)
