"""The CPU's depthwise kernel (codegen/cpu/ops/grouped_conv.py,
depthwise_rows: channels last, one filter per channel): swept against the
reference interpreter over channel counts around the vector width (the
scalar tail), widths that give whole and partial blocks of four pixels,
kernels, strides, dilations, paddings, bias, activations, batch sizes and
thread counts. Against Keras: tests/oracle/test_grouped_conv_layers.py."""

import numpy as np
from hypothesis import given, settings, strategies as st

import layerc
from layerc.codegen.cpu.simd import WIDTH
from layerc.ir import interpret
from layerc.layers import DepthwiseConv1D, DepthwiseConv2D, Input


@settings(max_examples=30, deadline=None)
@given(two_d=st.booleans(), height=st.integers(1, 6), width=st.integers(1, 13),
       c=st.sampled_from([1, WIDTH - 1, WIDTH, 2 * WIDTH + 3]), kernel=st.integers(1, 4),
       stride=st.integers(1, 3), dilation=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same"]), bias=st.booleans(),
       activation=st.sampled_from([None, "relu", "tanh"]), batch=st.sampled_from([1, 3]),
       threads=st.sampled_from([1, 2]), seed=st.integers(0, 2**16))
def test_depthwise_matches_the_reference(two_d, height, width, c, kernel, stride, dilation,
                                         padding, bias, activation, batch, threads, seed):
    if stride > 1:
        dilation = 1  # Keras refuses both at once
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        height, width = max(height, span), max(width, span)
    layer, shape = (DepthwiseConv2D, (height, width, c)) if two_d else \
        (DepthwiseConv1D, (width, c))
    model = layerc.Sequential([Input(shape), layer(kernel, strides=stride, padding=padding,
                                                   dilation_rate=dilation, use_bias=bias,
                                                   activation=activation)])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32)
                       for w in model.get_weights()])
    compiled = layerc.compile(model, threads=threads)
    x = rng.standard_normal((batch, *shape)).astype(np.float32)
    np.testing.assert_allclose(compiled.predict(x), interpret(compiled.graph, [x])[0],
                               rtol=1e-5, atol=1e-5)


def test_depthwise_nan_stays_in_its_channel_and_window():
    model = layerc.Sequential([Input((9, 9, WIDTH + 2)), DepthwiseConv2D(3, padding="same")])
    x = np.ones((2, 9, 9, WIDTH + 2), np.float32)
    x[1, 4, 4, 3] = np.nan
    x[1, 0, 8, WIDTH + 1] = np.nan  # a tail channel, in a corner
    got = layerc.compile(model).predict(x)
    want = np.zeros(got.shape, bool)
    want[1, 3:6, 3:6, 3] = True
    want[1, 0:2, 7:9, WIDTH + 1] = True
    np.testing.assert_array_equal(np.isnan(got), want)
