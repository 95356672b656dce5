import pytest

import layerc
from layerc.layers import Conv1D, Conv2D, MaxPooling2D

from pass_helpers import assert_same_numbers, body, run_pass
from layerc.passes import SpecializePadding


def test_pads_and_variants_golden():
    x = layerc.Input((7, 6, 3), name="x")
    h = Conv2D(4, 4, strides=2, padding="same", name="c_same")(x)   # even kernel, stride 2
    h = Conv2D(5, 1, name="c_1x1")(h)
    y = MaxPooling2D(3, strides=2, padding="same", name="pool")(h)
    graph = layerc.Model(x, y, name="m").to_graph()
    result = run_pass(SpecializePadding(), graph)
    assert result.changed == 3
    lines = body(result.graph).splitlines()
    # rows 7 -> 4 outputs: total pad (4-1)*2 + 4 - 7 = 3, split 1 before / 2 after
    assert "pads=((1, 2), (1, 1)), variant='im2col'" in lines[1]
    assert "pads=((0, 0), (0, 0)), variant='gemm'" in lines[2]
    # 4x3 map, window 3 stride 2 -> 2x2: rows pad 1 in all, at the end; columns 2
    assert "pads=((0, 1), (1, 1))" in lines[3]
    assert_same_numbers(graph, result.graph)
    assert run_pass(SpecializePadding(), result.graph).changed == 0


@pytest.mark.parametrize("kernel, channels, data_format, variant", [
    (3, 2, "channels_last", "direct"),   # 18 taps: no patches
    (4, 2, "channels_last", "direct"),   # 32 taps, the most a direct loop takes
    (3, 4, "channels_last", "im2col"),   # 36 taps
    (3, 2, "channels_first", "im2col"),  # the direct loop is a channels-last layout
])
def test_short_windows_run_direct(kernel, channels, data_format, variant):
    shape = (6, 6, channels) if data_format == "channels_last" else (channels, 6, 6)
    x = layerc.Input(shape, name="x")
    y = Conv2D(8, kernel, padding="same", data_format=data_format, name="c")(x)
    graph = layerc.Model(x, y).to_graph()
    result = run_pass(SpecializePadding(), graph)
    assert f"variant='{variant}'" in body(result.graph)
    assert_same_numbers(graph, result.graph)


@pytest.mark.parametrize("kwargs, channels, filters, variant", [
    (dict(padding="same"), 32, 32, "winograd"),
    (dict(padding="valid"), 64, 40, "winograd"),
    (dict(), 31, 32, "im2col"),                  # too few input channels to pay
    (dict(), 32, 31, "im2col"),                  # too few filters
    (dict(strides=2), 32, 32, "im2col"),
    (dict(dilation_rate=2), 32, 32, "im2col"),
    (dict(data_format="channels_first"), 32, 32, "im2col"),
])
def test_3x3_unit_stride_windows_run_winograd(kwargs, channels, filters, variant):
    first = kwargs.get("data_format") == "channels_first"
    x = layerc.Input((channels, 6, 6) if first else (6, 6, channels), name="x")
    y = Conv2D(filters, 3, name="c", **kwargs)(x)
    graph = layerc.Model(x, y).to_graph()
    result = run_pass(SpecializePadding(), graph)
    assert f"variant='{variant}'" in body(result.graph)
    assert_same_numbers(graph, result.graph)


@pytest.mark.parametrize("strides, dilation, expect", [
    (1, 2, "pads=((4, 0),)"),  # causal: d * (k - 1) on the left
    (2, 1, "pads=((2, 0),)"),  # whatever the stride
])
def test_causal_pads_left_only(strides, dilation, expect):
    x = layerc.Input((9, 2), name="x")
    y = Conv1D(3, 3, strides=strides, dilation_rate=dilation, padding="causal", name="c")(x)
    graph = layerc.Model(x, y).to_graph()
    result = run_pass(SpecializePadding(), graph)
    assert expect in body(result.graph)
    assert_same_numbers(graph, result.graph)


def test_stored_pads_are_verified():
    x = layerc.Input((5, 5, 1), name="x")
    graph = layerc.Model(x, Conv2D(2, 3, padding="same", name="c")(x)).to_graph()
    node = graph.node("c")
    import dataclasses
    with pytest.raises(layerc.ShapeError, match="stored pads"):
        graph.replace("c", node.op, dataclasses.replace(node.attrs, pads=((0, 0), (0, 0))))
