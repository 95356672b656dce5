"""A depthwise convolution and the 1x1 convolution that alone reads it run
as one CPU step (codegen/cpu/fusion.py, ops/separable.py): SeparableConv1D
and 2D swept against the reference interpreter over channel counts around
the vector width, filters, kernels, strides, dilations, paddings, bias,
ReLU or none, batch sizes (bands of fewer rows at batch 1) and thread
counts; the cases that must not fuse keep two steps; a memory plan that puts
the output over the depthwise input runs unfused. Against Keras:
tests/oracle/test_grouped_conv_layers.py."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import layerc
from layerc.codegen import build
from layerc.codegen.cpu.simd import WIDTH
from layerc.ir import MemoryPlan, Port, interpret
from layerc.layers import (Conv2D, DepthwiseConv2D, Flatten, Input, SeparableConv1D,
                           SeparableConv2D)


def _steps(compiled):
    return [line.split()[0] for line in compiled.program.text.splitlines()
            if not line.startswith(";")]


def _check(model, x, threads=None):
    rng = np.random.default_rng(x.size)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32)
                       for w in model.get_weights()])
    compiled = layerc.compile(model, threads=threads)
    got, want = compiled.predict(x), interpret(compiled.graph, [x])
    for g, w in zip(got if isinstance(got, list) else [got], want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-4)
    return compiled


@settings(max_examples=25, deadline=None)
@given(two_d=st.booleans(), height=st.integers(1, 5), width=st.integers(1, 11),
       c=st.sampled_from([2, WIDTH - 1, WIDTH, 2 * WIDTH + 3]),  # 1: not grouped
       filters=st.sampled_from([1, 2 * WIDTH, 2 * WIDTH + 5]), kernel=st.integers(1, 3),
       stride=st.integers(1, 2), dilation=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same"]), bias=st.booleans(),
       activation=st.sampled_from([None, "relu"]), batch=st.sampled_from([1, 3]),
       threads=st.sampled_from([1, 2]))
def test_fused_separable_matches_the_reference(two_d, height, width, c, filters, kernel,
                                               stride, dilation, padding, bias, activation,
                                               batch, threads):
    if stride > 1:
        dilation = 1  # Keras refuses both at once
    span = dilation * (kernel - 1) + 1
    if padding == "valid":
        height, width = max(height, span), max(width, span)
    layer, shape = (SeparableConv2D, (height, width, c)) if two_d else \
        (SeparableConv1D, (width, c))
    model = layerc.Sequential([Input(shape), layer(filters, kernel, strides=stride,
                                                   padding=padding, dilation_rate=dilation,
                                                   use_bias=bias, activation=activation)])
    x = np.random.default_rng(batch).standard_normal((batch, *shape)).astype(np.float32)
    assert _steps(_check(model, x, threads)) == ["separable_conv"]


def test_large_inputs_run_in_bands_of_several_rows():
    """A band holds as many rows as BAND_FLOATS allow (here 4 of 30, the
    last band 2): bands start inside a sample."""
    from layerc.codegen.cpu.conv_pool import BAND_FLOATS

    assert BAND_FLOATS // (31 * 128) == 4
    model = layerc.Sequential([Input((30, 31, 128)), SeparableConv2D(40, 3, padding="same")])
    x = np.random.default_rng(0).standard_normal((2, 30, 31, 128)).astype(np.float32)
    assert _steps(_check(model, x, 1)) == ["separable_conv"]


def _unfused_models():
    yield "an activation past ReLU", layerc.Sequential([
        Input((6, 6, 9)), SeparableConv2D(4, 3, activation="tanh")])
    yield "depth multiplier 2", layerc.Sequential([
        Input((6, 6, 9)), SeparableConv2D(4, 3, depth_multiplier=2)])
    yield "channels first", layerc.Sequential([
        Input((9, 6, 6)), SeparableConv2D(4, 3, data_format="channels_first")])
    yield "a strided 1x1", layerc.Sequential([
        Input((6, 6, 9)), DepthwiseConv2D(3), Conv2D(4, 1, strides=2)])
    x = Input((6, 6, 9), name="x")
    dw = DepthwiseConv2D(3, name="dw")(x)
    yield "two readers", layerc.Model(x, [Conv2D(4, 1)(dw), Flatten()(dw)])


@pytest.mark.parametrize("name,model", list(_unfused_models()), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_what_does_not_fuse_keeps_two_steps(name, model):
    batch = 2
    shape = model.inputs[0].shape[1:]
    x = np.random.default_rng(0).standard_normal((batch, *shape)).astype(np.float32)
    assert "separable_conv" not in _steps(_check(model, x)), name


def test_a_plan_with_the_output_over_the_depthwise_input_runs_unfused():
    """plan-memory keeps the depthwise input alive through the 1x1
    convolution; a plan that does not (an older artifact's) must not fuse."""
    model = layerc.Sequential([Input((8, 8, 16), name="x"), DepthwiseConv2D(3, name="dw"),
                               Conv2D(8, 1, name="pw")])
    graph = layerc.compile(model).graph
    plan = graph.memory_plan
    x_at = plan.offset(Port("x"))
    offsets = tuple((p, x_at if p == Port("pw") else off) for p, off in plan.offsets)
    arena = max(plan.arena_size, x_at + graph.node("pw").type.sample_size)
    graph.memory_plan = dataclasses.replace(plan, offsets=offsets, arena_size=arena)
    assert isinstance(graph.memory_plan, MemoryPlan)
    program = build(graph, "cpu")
    assert [line.split()[0] for line in program.text.splitlines()
            if not line.startswith(";")] == ["grouped_conv", "conv"]
    x = np.random.default_rng(0).standard_normal((3, 8, 8, 16)).astype(np.float32)
    np.testing.assert_allclose(program.run([x], 3)[0], interpret(graph, [x])[0], rtol=1e-5,
                               atol=1e-4)
