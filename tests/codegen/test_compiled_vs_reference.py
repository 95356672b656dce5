"""Compiled CPU programs against the reference interpreter, on random models.

Each example compiles twice (the default pipeline, and plan-memory alone) and
compares every output with `layerc.ir.interpret` on the traced graph. The kernel
library is cached on disk, so an example costs milliseconds.

The strategies draw from every registered layer maker, so besides the core layers
their models hold convolutions, pooling and locally-connected layers wherever a
shape is a 1-D or 2-D feature map (`input_shapes()` draws many such inputs);
test_spatial_vs_reference.py checks convnet-shaped models on their own.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import layerc
from layerc.testing import (assert_compiles_like_reference, functional_graphs, layer_stacks,
                            model_inputs)

PROPERTY = settings(deadline=None, max_examples=60)


@PROPERTY
@given(layer_stacks(), st.data())
def test_layer_stacks_compile_like_the_reference(model, data):
    assert_compiles_like_reference(model, data.draw(model_inputs(model), label="inputs"))


@PROPERTY
@given(functional_graphs(), st.data())
def test_functional_graphs_compile_like_the_reference(model, data):
    assert_compiles_like_reference(model, data.draw(model_inputs(model), label="inputs"))


@settings(deadline=None, max_examples=40)
@given(st.one_of(layer_stacks(), functional_graphs()), st.data())
def test_nan_inputs_flow_through_like_the_reference(model, data):
    inputs = data.draw(model_inputs(model, allow_nan=True), label="inputs")
    assert_compiles_like_reference(model, inputs)


@settings(deadline=None, max_examples=40)
@given(st.one_of(layer_stacks(), functional_graphs()), st.data())
def test_batch_chunks_give_the_numbers_of_one_batch(model, data):
    batch = data.draw(st.integers(2, 9), label="batch")
    batch_size = data.draw(st.integers(1, batch - 1), label="batch_size")
    inputs = data.draw(model_inputs(model, batch=batch), label="inputs")
    assert_compiles_like_reference(model, inputs, batch_size=batch_size)
    compiled = layerc.compile(model)
    whole = compiled.predict(inputs)
    chunked = compiled.predict(inputs, batch_size=batch_size)
    whole, chunked = ([w] if isinstance(w, np.ndarray) else w for w in (whole, chunked))
    for i, (w, c) in enumerate(zip(whole, chunked)):
        np.testing.assert_allclose(c, w, rtol=1e-5, atol=1e-5,
                                   err_msg=f"output {i}, batch {batch} in chunks of "
                                           f"{batch_size}")
