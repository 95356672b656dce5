"""Compiled CPU programs against the reference interpreter, on random convnets.

`spatial_stacks()` draws an Input feature map (1-D or 2-D, channels last or
first), one to four convolution / pooling / locally-connected layers (each in its
own data format, with strides, dilation, 'same' pads that fall unevenly, 'causal'
pads, kernels as large as the input), then a Flatten or a global pooling and a
Dense. Each example compiles twice (the default pipeline, and plan-memory alone,
so the lowerings see both specialized and underived pads) and compares every
output with `layerc.ir.interpret`.

Max pooling must propagate NaN as numpy.max does; the NaN test also checks the
windowed and global pooling layers against a NumPy definition written here, so a
reference and a kernel that skipped NaN alike would still fail.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import layerc
from layerc.layers import Input
from layerc.testing import (DATA_FORMATS, SPATIAL_MAKERS, assert_compiles_like_reference,
                            draw_layer, inputs_for, model_inputs, spatial_shapes,
                            spatial_stacks)

PROPERTY = settings(deadline=None, max_examples=40)


@PROPERTY
@given(spatial_stacks(), st.data())
def test_spatial_stacks_compile_like_the_reference(model, data):
    assert_compiles_like_reference(model, data.draw(model_inputs(model), label="inputs"))


@PROPERTY
@given(spatial_stacks(), st.data())
def test_spatial_batch_chunks_give_the_numbers_of_one_batch(model, data):
    batch = data.draw(st.integers(2, 9), label="batch")
    batch_size = data.draw(st.integers(1, batch - 1), label="batch_size")
    inputs = data.draw(model_inputs(model, batch=batch), label="inputs")
    assert_compiles_like_reference(model, inputs, batch_size=batch_size)
    compiled = layerc.compile(model)
    whole = compiled.predict(inputs)
    chunked = compiled.predict(inputs, batch_size=batch_size)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5,
                               err_msg=f"batch {batch} in chunks of {batch_size}")


@PROPERTY
@given(spatial_stacks(), st.data())
def test_nan_inputs_flow_through_convnets_like_the_reference(model, data):
    fraction = data.draw(st.sampled_from((0.02, 0.1, 0.5)), label="nan_fraction")
    (x,) = inputs_for(model, data.draw(st.integers(1, 4), label="batch"),
                      seed=data.draw(st.integers(0, 2**32 - 1), label="seed"),
                      nan_fraction=fraction)
    assert_compiles_like_reference(model, x)


# ----- pooling against a NumPy definition independent of the reference -----
POOLING = {name: SPATIAL_MAKERS[name] for name in (
    "max_pooling1d", "average_pooling1d", "max_pooling2d", "average_pooling2d")}


def same_pads(n, k, s):
    """TensorFlow's 'same': ceil(n / s) outputs, the odd pad at the end."""
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def numpy_pool(x, layer):
    """Windowed pooling by its definition: max as numpy.max (NaN wins), average
    over the window's cells inside the input."""
    last = layer.data_format == "channels_last"
    x = x.astype(np.float64) if last else np.moveaxis(x.astype(np.float64), 1, -1)
    pads = [same_pads(n, k, s) if layer.padding == "same" else (0, 0)
            for n, k, s in zip(x.shape[1:-1], layer.pool_size, layer.strides)]
    starts = [range(-p[0], n + p[1] - k + 1, s) for n, k, s, p in
              zip(x.shape[1:-1], layer.pool_size, layer.strides, pads)]
    out = np.empty((x.shape[0], *map(len, starts), x.shape[-1]))
    for index in np.ndindex(*map(len, starts)):
        window = tuple(slice(max(r[i], 0), r[i] + k)
                       for r, i, k in zip(starts, index, layer.pool_size))
        cells = x[(slice(None), *window)].reshape(x.shape[0], -1, x.shape[-1])
        reduce = np.max if layer.kind.startswith("Max") else np.mean
        out[(slice(None), *index)] = reduce(cells, axis=1)
    return (out if last else np.moveaxis(out, -1, 1)).astype(np.float32)


@PROPERTY
@given(spatial_shapes(), st.data())
def test_pooling_propagates_nan_like_numpy(shape, data):
    layer = draw_layer(data.draw, POOLING, shape)
    model = layerc.Sequential([Input(shape), layer])
    (x,) = inputs_for(model, data.draw(st.integers(1, 3), label="batch"),
                      seed=data.draw(st.integers(0, 2**32 - 1), label="seed"),
                      nan_fraction=data.draw(st.sampled_from((0.05, 0.3)), label="nan"))
    want = numpy_pool(x, layer)
    got = layerc.compile(model).predict(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want),
                                  err_msg=f"NaN positions, {layer.get_config()}")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, equal_nan=True,
                               err_msg=f"{layer.get_config()}")
    assert_compiles_like_reference(model, x)


def test_global_max_pooling_propagates_nan_like_numpy():
    for rank, cls in ((1, layerc.layers.GlobalMaxPooling1D),
                      (2, layerc.layers.GlobalMaxPooling2D)):
        for data_format in DATA_FORMATS:
            shape = (3, 4) if rank == 1 else (3, 2, 4)
            model = layerc.Sequential([Input(shape), cls(data_format=data_format)])
            (x,) = inputs_for(model, 4, seed=rank)
            x[1].flat[5] = np.nan  # one NaN in sample 1: exactly one channel is NaN
            x[3] = np.nan
            axes = tuple(range(1, 1 + rank)) if data_format == "channels_last" \
                else tuple(range(2, 2 + rank))
            want = np.max(x, axis=axes)
            got = layerc.compile(model).predict(x)
            np.testing.assert_array_equal(got, want, err_msg=f"{cls.__name__} {data_format}")
            assert np.isnan(got[1]).sum() == 1 and np.isnan(got[3]).all()
            assert_compiles_like_reference(model, x)
