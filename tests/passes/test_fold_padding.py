"""fold-padding: a ZeroPadding before a convolution becomes the
convolution's explicit pads; the numbers stay (reference interpreter before
and after, and the CPU backend on the folded graph), and the cases that must
not fold do not, with a note saying why."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import layerc
from layerc.ir import OpKind
from layerc.layers import (Conv1D, Conv2D, Input, MaxPooling2D, ZeroPadding1D, ZeroPadding2D)
from layerc.passes import FoldPadding

from pass_helpers import assert_same_numbers, run_pass


def _kinds(graph):
    return [n.op for n in graph.nodes()]


def _randomized(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in ws])
    return model


@settings(max_examples=25, deadline=None)
@given(rank=st.sampled_from([1, 2]), before=st.integers(0, 2), after=st.integers(0, 2),
       kernel=st.integers(2, 4), stride=st.integers(1, 2), dilation=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same", "causal"]),
       channels_first=st.booleans(), seed=st.integers(0, 2**16))
def test_folds_and_keeps_the_numbers(rank, before, after, kernel, stride, dilation, padding,
                                     channels_first, seed):
    if padding == "causal" and rank == 2 or dilation > 1 and stride > 1:
        padding, dilation = "valid", 1  # Keras's rules: causal is 1-D, dilation with stride 1
    fmt = "channels_first" if channels_first else "channels_last"
    spatial = (7,) * rank
    shape = (3, *spatial) if channels_first else (*spatial, 3)
    zero = ZeroPadding1D((before, after)) if rank == 1 else \
        ZeroPadding2D(((before, after), (after, before)), data_format=fmt)
    conv = (Conv1D if rank == 1 else Conv2D)(4, kernel, strides=stride, padding=padding,
                                             dilation_rate=dilation, name="conv",
                                             data_format="channels_last" if rank == 1 else fmt)
    if rank == 1:
        shape = (*spatial, 3)
    model = _randomized(layerc.Sequential([Input(shape), zero, conv]), seed)
    graph = model.to_graph()
    result = run_pass(FoldPadding(), graph)
    assert_same_numbers(graph, result.graph, seed=seed)
    if result.changed:
        assert OpKind.PAD not in _kinds(result.graph)
        assert result.graph.node("conv").attrs.padding == "explicit"
        x = np.random.default_rng(seed).normal(size=(2, *shape)).astype(np.float32)
        expected = layerc.ir.interpret(graph, [x])[0]
        got = layerc.compile(model).predict(x)  # CUDA: tests/codegen/cuda/test_spatial.py
        np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-5)
    else:
        assert "not folded" in result.notes[0]


def test_winograd_and_direct_variants_take_explicit_pads():
    """A 3x3 stride-1 convolution over 32 channels runs Winograd, one over 2
    the direct kernel: both with the pads of ZeroPadding2D(1) + valid."""
    for channels, variant in ((32, "winograd"), (2, "direct")):
        model = _randomized(layerc.Sequential([
            Input((6, 5, channels)), ZeroPadding2D(((1, 1), (1, 0))),
            Conv2D(32, 3, name="conv")]), channels)
        compiled = layerc.compile(model)
        conv = compiled.graph.node("conv")
        assert conv.attrs.padding == "explicit" and conv.attrs.variant == variant
        assert conv.attrs.pads == ((1, 1), (1, 0))
        x = np.random.default_rng(1).normal(size=(3, 6, 5, channels)).astype(np.float32)
        np.testing.assert_allclose(compiled.predict(x),
                                   layerc.ir.interpret(model.to_graph(), [x])[0],
                                   atol=5e-5, rtol=1e-5)


@pytest.mark.parametrize("build,why", [
    (lambda: [Input((6, 6, 2)), ZeroPadding2D(1), MaxPooling2D(2)], "not a convolution"),
    (lambda: [Input((6, 2)), ZeroPadding1D(3), Conv1D(2, 3, name="conv")], "kernel span"),
])
def test_what_does_not_fold(build, why):
    graph = layerc.Sequential(build()).to_graph()
    result = run_pass(FoldPadding(), graph)
    assert result.changed == 0 and OpKind.PAD in _kinds(result.graph)
    assert why in result.notes[0]


def test_a_padding_with_two_readers_stays():
    x = Input((6, 2))
    padded = ZeroPadding1D(1)(x)
    model = layerc.Model(x, [Conv1D(2, 3)(padded), Conv1D(3, 2)(padded)])
    result = run_pass(FoldPadding(), model.to_graph())
    assert result.changed == 0 and "no single reader" in result.notes[0]


def test_an_explicit_padding_survives_an_artifact(tmp_path):
    model = _randomized(layerc.Sequential([Input((5, 5, 2)), ZeroPadding2D(1),
                                           Conv2D(3, 3, name="conv")]), 4)
    compiled = layerc.compile(model)
    compiled.save(tmp_path / "m.lcz")
    x = np.random.default_rng(2).normal(size=(2, 5, 5, 2)).astype(np.float32)
    loaded = layerc.load(tmp_path / "m.lcz")
    assert loaded.graph.node("conv").attrs.padding == "explicit"
    np.testing.assert_array_equal(loaded.predict(x), compiled.predict(x))
