"""A convolution and the max pooling that alone reads it run as one CPU step
(codegen/cpu/fusion.py, conv_pool.py; a 2x2 one inside a Winograd
convolution, winograd.py): swept against the reference interpreter over
1-D and 2-D windows, strides, dilations, paddings, pool sizes, channel
counts around the vector width, batch sizes (a batch of 1 splits pooled
rows into column blocks) and thread counts; the cases that
must not fuse keep their pooling step; a memory plan that puts the pooled
output over the convolution's input is run unfused."""

import dataclasses

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import layerc
from layerc.codegen import build
from layerc.codegen.cpu.simd import WIDTH
from layerc.ir import MemoryPlan, Port, interpret
from layerc.layers import (AveragePooling2D, Conv1D, Conv2D, Flatten, Input, MaxPooling1D,
                           MaxPooling2D)
from layerc.testing import assert_compiles_like_reference


def _steps(compiled):
    """The plan rows' kernel names, in order."""
    return [line.split()[0] for line in compiled.program.text.splitlines()
            if not line.startswith(";")]


def _check(model, x, threads):
    compiled = layerc.compile(model, threads=threads)
    want = interpret(compiled.graph, [x])[0]
    np.testing.assert_allclose(compiled.predict(x), want, rtol=1e-5, atol=1e-4)
    return compiled


@given(two_d=st.booleans(), side=st.integers(4, 17), c=st.integers(1, 5),
       f=st.sampled_from([1, WIDTH - 1, WIDTH, 2 * WIDTH + 3]), kernel=st.integers(1, 3),
       stride=st.integers(1, 2), dilation=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same"]), relu=st.booleans(), bias=st.booleans(),
       pool=st.integers(1, 3), batch=st.sampled_from([1, 2, 5]), threads=st.sampled_from([1, 2]),
       seed=st.integers(0, 2**16))
# a 1x1 convolution whose bands are narrower than the image: its rows are not
# consecutive pixels (gemm._table's pointwise case must not take it)
@example(two_d=True, side=4, c=1, f=1, kernel=1, stride=1, dilation=1, padding="valid",
         relu=False, bias=False, pool=2, batch=1, threads=1, seed=0)
def test_fused_conv_and_max_pool_match_the_reference(two_d, side, c, f, kernel, stride, dilation,
                                                     padding, relu, bias, pool, batch, threads,
                                                     seed):
    if stride > 1 and dilation > 1:
        dilation = 1  # Keras refuses both at once
    span = dilation * (kernel - 1) + 1
    out = -(-side // stride) if padding == "same" else (side - span) // stride + 1
    if out < pool or (padding == "valid" and side < span):
        pool = 1
    conv, maxpool = (Conv2D, MaxPooling2D) if two_d else (Conv1D, MaxPooling1D)
    shape = (side, side + 1, c) if two_d else (side, c)
    model = layerc.Sequential([
        Input(shape), conv(f, kernel, strides=stride, dilation_rate=dilation, padding=padding,
                           activation="relu" if relu else None, use_bias=bias),
        maxpool(pool)])
    x = np.random.default_rng(seed).standard_normal((batch, *shape)).astype(np.float32)
    compiled = _check(model, x, threads)
    assert _steps(compiled) == ["conv"]  # the pooling ran inside the convolution's step


@pytest.mark.parametrize("batch,threads", [(1, 2), (3, 1), (3, 2)])
def test_large_images_run_in_bands_of_several_pooled_rows(batch, threads):
    """A band holds as many pooled rows as BAND_FLOATS allow: here 2 of the
    29 (the last band one), so bands start inside a sample."""
    from layerc.codegen.cpu.conv_pool import BAND_FLOATS

    f = 64
    assert 2 <= BAND_FLOATS // (2 * 29 * 2 * f) < 29
    model = layerc.Sequential([Input((60, 61, 3)), Conv2D(f, 3, activation="relu"),
                               MaxPooling2D(2)])
    x = np.random.default_rng(batch).standard_normal((batch, 60, 61, 3)).astype(np.float32)
    assert _steps(_check(model, x, threads)) == ["conv"]


def test_nan_wins_inside_the_fused_pooling():
    model = layerc.Sequential([Input((8, 8, 2)), Conv2D(WIDTH + 1, 1), MaxPooling2D(2)])
    x = np.random.default_rng(0).standard_normal((3, 8, 8, 2)).astype(np.float32)
    x[1, 5, 2, 0] = np.nan
    compiled = _check(model, x, 2)
    got = compiled.predict(x)
    assert np.isnan(got[1, 2, 1]).all() and np.isnan(got).sum() == WIDTH + 1


@given(side=st.integers(2, 9), c=st.sampled_from([32, 33]),
       f=st.sampled_from([32, 2 * WIDTH + 35]), padding=st.sampled_from(["valid", "same"]),
       relu=st.booleans(), bias=st.booleans(), batch=st.sampled_from([1, 3]),
       threads=st.sampled_from([1, 2]), seed=st.integers(0, 2**16))
def test_a_2x2_max_pooling_runs_inside_a_winograd_convolution(side, c, f, padding, relu, bias,
                                                               batch, threads, seed):
    """Odd maps (MNIST's second convolution: 11 x 11) drop their last row
    and column, as the pooling does."""
    shape = (side + 2, side + 3, c)
    model = layerc.Sequential([Input(shape), Conv2D(f, 3, padding=padding, use_bias=bias,
                                                    activation="relu" if relu else None,
                                                    name="conv"), MaxPooling2D(2)])
    x = np.random.default_rng(seed).standard_normal((batch, *shape)).astype(np.float32)
    compiled = _check(model, x, threads)
    assert compiled.graph.node("conv").attrs.variant == "winograd"
    assert _steps(compiled) == ["conv"]


def _unfused_models():
    x = Input((10, 10, 3), name="x")
    conv = Conv2D(4, 3, activation="relu", name="conv")(x)
    yield "two readers", layerc.Model(x, [MaxPooling2D(2, name="pool")(conv),
                                          Flatten(name="flat")(conv)])
    yield "conv output is a model output", layerc.Model(x, [MaxPooling2D(2)(conv), conv])
    yield "average pooling", layerc.Sequential([Input((10, 10, 3)), Conv2D(4, 3),
                                                AveragePooling2D(2)])
    yield "overlapping windows", layerc.Sequential([Input((10, 10, 3)), Conv2D(4, 3),
                                                    MaxPooling2D(3, strides=2)])
    yield "padded pooling", layerc.Sequential([Input((9, 9, 3)), Conv2D(4, 3),
                                               MaxPooling2D(2, padding="same")])
    yield "an activation past ReLU", layerc.Sequential([Input((10, 10, 3)),
                                                        Conv2D(4, 3, activation="tanh"),
                                                        MaxPooling2D(2)])
    yield "channels first", layerc.Sequential([Input((3, 10, 10)),
                                               Conv2D(4, 3, data_format="channels_first"),
                                               MaxPooling2D(2, data_format="channels_first")])
    yield "Winograd, 3x3 pooling", layerc.Sequential([Input((10, 10, 32)), Conv2D(32, 3),
                                                      MaxPooling2D(3)])


@pytest.mark.parametrize("name,model", list(_unfused_models()), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_what_does_not_fuse_keeps_its_pooling_step(name, model):
    compiled = layerc.compile(model)
    assert "pool" in _steps(compiled), name
    assert_compiles_like_reference(model, atol=1e-4)


def test_a_plan_with_the_pooled_output_over_the_input_runs_unfused():
    """plan-memory keeps the convolution's input alive through the pooling;
    a plan that does not (an older artifact's) must not run fused."""
    model = layerc.Sequential([Input((12, 12, 1), name="x"), Conv2D(8, 3, name="conv"),
                               MaxPooling2D(2, name="pool")])
    graph = layerc.compile(model).graph
    plan = graph.memory_plan
    x_at = plan.offset(Port("x"))
    offsets = tuple((p, x_at if p == Port("pool") else off) for p, off in plan.offsets)
    arena = max(plan.arena_size, x_at + graph.node("pool").type.sample_size)
    graph.memory_plan = dataclasses.replace(plan, offsets=offsets, arena_size=arena)
    assert isinstance(graph.memory_plan, MemoryPlan)
    program = build(graph, "cpu")
    assert [line.split()[0] for line in program.text.splitlines()
            if not line.startswith(";")] == ["conv", "pool"]
    x = np.random.default_rng(0).standard_normal((4, 12, 12, 1)).astype(np.float32)
    np.testing.assert_allclose(program.run([x], 4)[0], interpret(graph, [x])[0], rtol=1e-5,
                               atol=1e-4)
