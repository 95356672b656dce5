"""LocallyConnected1D/2D against an independent NumPy definition (Keras 3 has
no locally-connected layers, so there is no Keras oracle).

The definition (DESIGN.md weight layout, Keras 2 design): 'valid' windows of
`kernel_size` with `strides`; output position p (row-major over the output
grid) has its own kernel kernel[p] of shape (prod(kernel_size) * in, filters)
whose rows take the window's values in (kernel offsets..., channel) order, in
both data formats; the bias has shape (*output grid, filters) and bias[pos, f]
is added at output position pos, filter f; the activation then sees the output
in its own data format (softmax: the last axis).

Every case checks the reference interpreter and the compiled model."""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as example_seed
from hypothesis import strategies as st

import layerc
import layerc.ir
from layerc.layers import LocallyConnected1D, LocallyConnected2D

SWEEP = settings(max_examples=12, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

ATOL = RTOL = 1e-5
FORMATS = ["channels_last", "channels_first"]
ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "softmax"]


def image_shape(spatial: tuple[int, ...], channels: int, data_format: str) -> tuple[int, ...]:
    return (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)


# ----- the independent NumPy definition -----
def np_activation(name: str, y: np.ndarray) -> np.ndarray:
    if name == "linear":
        return y
    if name == "relu":
        return np.maximum(y, 0.0)
    if name == "tanh":
        return np.tanh(y)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-y))
    if name == "softmax":
        e = np.exp(y - y.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise AssertionError(name)


def np_local(x, kernel, bias, kernel_size, strides, data_format, activation="linear"):
    x = np.asarray(x, np.float64)
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)  # (batch, *spatial, channels) from here on
    spatial = x.shape[1:-1]
    out = [(n - k) // s + 1 for n, k, s in zip(spatial, kernel_size, strides)]
    filters = kernel.shape[-1]
    y = np.zeros((x.shape[0], *out, filters))
    for p, pos in enumerate(itertools.product(*(range(o) for o in out))):
        # rows in (kernel offsets..., channel) order: offset-major, channel-minor
        patch = np.concatenate(
            [x[(slice(None), *(i * s + o for i, s, o in zip(pos, strides, offsets)))]
             for offsets in itertools.product(*(range(k) for k in kernel_size))], axis=1)
        y[(slice(None), *pos)] = patch @ np.asarray(kernel[p], np.float64)
        if bias is not None:
            y[(slice(None), *pos)] += bias[pos]
    if data_format == "channels_first":
        y = np.moveaxis(y, -1, 1)
    return np_activation(activation, y).astype(np.float32)


def test_np_local_row_order_by_hand():
    """The definition itself, on one window: rows (t0,c0), (t0,c1), (t1,c0), (t1,c1)."""
    kernel = np.array([[[1.0], [10.0], [100.0], [1000.0]]])  # (1 position, 2*2, 1 filter)
    x_last = np.array([[[1.0, 2.0], [3.0, 4.0]]])  # (batch, t, c)
    want = 1 * 1 + 2 * 10 + 3 * 100 + 4 * 1000
    assert np_local(x_last, kernel, None, (2,), (1,), "channels_last").item() == want
    x_first = np.swapaxes(x_last, 1, 2)  # (batch, c, t), the same values
    assert np_local(x_first, kernel, None, (2,), (1,), "channels_first").item() == want


# ----- helpers -----
def data(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return rng.uniform(-scale, scale, shape).astype(np.float32)


def randomize(layer, rng: np.random.Generator, scale: float = 0.5) -> None:
    layer.set_weights([data(rng, w.shape, scale) for w in layer.get_weights()])


def check_against(model, xs: np.ndarray, want: np.ndarray, compiled=None) -> None:
    got = {"interpret": layerc.ir.interpret(model.to_graph(), [xs.copy()])[0],
           "compiled": (compiled or layerc.compile(model)).predict(xs.copy())}
    for what, value in got.items():
        value = np.asarray(value)
        assert value.shape == want.shape, f"{what}: shape {value.shape} != {want.shape}"
        assert value.dtype == np.float32, f"{what}: dtype {value.dtype}"
        err = np.abs(value.astype(np.float64) - want)
        bound = ATOL + RTOL * np.abs(want)
        assert (err <= bound).all(), (
            f"{what}: {int((err > bound).sum())} of {err.size} values differ from the NumPy "
            f"definition; max abs error {err.max():.3g}")


def local_model(rank, shape, filters, kernel_size, **kwargs):
    cls = LocallyConnected1D if rank == 1 else LocallyConnected2D
    layer = cls(filters, kernel_size, name="local", **kwargs)
    x = layerc.Input(shape)
    return layerc.Model(x, layer(x)), layer


def check_local(*, rank, spatial, channels, filters, kernel_size, strides, data_format,
                use_bias, activation, batch, rng):
    shape = image_shape(spatial, channels, data_format)
    model, layer = local_model(rank, shape, filters, kernel_size, strides=strides,
                               data_format=data_format, use_bias=use_bias,
                               activation=activation)
    out = tuple((n - k) // s + 1 for n, k, s in zip(spatial, kernel_size, strides))
    assert model.output_shape == (None, *image_shape(out, filters, data_format))
    shapes = [w.shape for w in layer.get_weights()]
    want_shapes = [(math.prod(out), math.prod(kernel_size) * channels, filters)]
    if use_bias:
        want_shapes.append((*out, filters))
    assert shapes == want_shapes
    assert layer.count_params() == sum(math.prod(s) for s in want_shapes)
    randomize(layer, rng)
    ws = layer.get_weights()
    xs = data(rng, (batch, *shape), 2.0)
    want = np_local(xs, ws[0], ws[1] if use_bias else None, kernel_size, strides, data_format,
                    activation)
    check_against(model, xs, want)


# ----- sweeps -----
@st.composite
def local_config(draw, rank: int):
    kernel_size = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    spatial = tuple(draw(st.integers(k, 12)) for k in kernel_size)
    return dict(kernel_size=kernel_size, strides=strides, spatial=spatial)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [1, 2])
def test_local_sweep(rank, data_format):
    # each case draws its own examples (a derandomized sweep would repeat them)
    @SWEEP
    @example_seed(zlib.crc32(f"local{rank}-{data_format}".encode()))
    @given(cfg=local_config(rank), channels=st.integers(1, 3), filters=st.integers(1, 4),
           use_bias=st.booleans(), activation=st.sampled_from(ACTIVATIONS),
           batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
    def sweep(cfg, channels, filters, use_bias, activation, batch, seed):
        check_local(rank=rank, channels=channels, filters=filters, data_format=data_format,
                    use_bias=use_bias, activation=activation, batch=batch,
                    rng=np.random.default_rng(seed), **cfg)

    sweep()


# ----- chosen cases -----
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank,spatial,kernel_size,strides", [
    (1, (9,), (3,), (2,)),
    (1, (10,), (2,), (3,)),       # gaps between windows
    (1, (7,), (7,), (1,)),        # one position
    (2, (7, 8), (3, 2), (2, 3)),
    (2, (6, 6), (1, 1), (1, 1)),  # 1x1: a per-pixel Dense
    (2, (5, 9), (5, 2), (1, 2)),
], ids=["1d_s2", "1d_gaps", "1d_one_position", "2d_s23", "2d_1x1", "2d_full_rows"])
def test_local_strides(rng, data_format, rank, spatial, kernel_size, strides):
    check_local(rank=rank, spatial=spatial, channels=3, filters=4, kernel_size=kernel_size,
                strides=strides, data_format=data_format, use_bias=True, activation="relu",
                batch=2, rng=rng)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [1, 2])
def test_local_kernel_rows_are_offsets_then_channels(data_format, rank):
    """One window, an identity kernel: filter f outputs the value kernel row f
    reads, which must be (offsets..., channel) order in both data formats."""
    ksize = (2,) * rank
    channels = 3
    shape = image_shape(ksize, channels, data_format)
    rows = math.prod(ksize) * channels
    model, layer = local_model(rank, shape, rows, ksize, data_format=data_format,
                               use_bias=False)
    layer.set_weights([np.eye(rows, dtype=np.float32)[None]])
    x_last = np.arange(1, rows + 1, dtype=np.float32).reshape(1, *ksize, channels)
    xs = x_last if data_format == "channels_last" else np.moveaxis(x_last, -1, 1).copy()
    want = x_last.ravel().tolist()  # (offsets..., channel) order, channel fastest
    got = {"interpret": layerc.ir.interpret(model.to_graph(), [xs.copy()])[0],
           "compiled": layerc.compile(model).predict(xs.copy())}
    for what, value in got.items():
        assert np.asarray(value).ravel().tolist() == want, what


@pytest.mark.parametrize("data_format", FORMATS)
def test_local_bias_is_added_at_its_position_and_filter(data_format):
    """With a zero kernel the output is the bias, bias[i, j, f] at (i, j, f)."""
    shape = image_shape((4, 5), 2, data_format)
    model, layer = local_model(2, shape, 3, (2, 2), data_format=data_format)
    kernel, bias = layer.get_weights()
    assert bias.shape == (3, 4, 3)
    bias = np.arange(bias.size, dtype=np.float32).reshape(bias.shape)
    layer.set_weights([np.zeros_like(kernel), bias])
    want = bias if data_format == "channels_last" else np.moveaxis(bias, -1, 0)
    xs = np.ones((2, *shape), np.float32)
    check_against(model, xs, np.broadcast_to(want, (2, *want.shape)).astype(np.float64))


def test_spec_example_4_locally_connected_2d(rng):
    first = LocallyConnected2D(64, (3, 3), input_shape=(32, 32, 3), name="lc1")
    second = LocallyConnected2D(32, (3, 3), name="lc2")
    model = layerc.Sequential()
    model.add(first)
    assert first.output_shape == (None, 30, 30, 64)
    assert first.count_params() == (30 * 30) * (3 * 3 * 3 * 64) + (30 * 30) * 64
    assert [w.shape for w in first.get_weights()] == [(900, 27, 64), (30, 30, 64)]
    model.add(second)
    assert second.output_shape == (None, 28, 28, 32)
    assert [w.shape for w in second.get_weights()] == [(784, 576, 32), (28, 28, 32)]
    assert model.output_shape == (None, 28, 28, 32)
    randomize(first, rng, 0.3)
    randomize(second, rng, 0.05)
    xs = data(rng, (2, 32, 32, 3))
    k1, b1 = first.get_weights()
    k2, b2 = second.get_weights()
    hidden = np_local(xs, k1, b1, (3, 3), (1, 1), "channels_last")
    check_against(model, xs, np_local(hidden, k2, b2, (3, 3), (1, 1), "channels_last"))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("rank", [1, 2])
def test_softmax_on_local_uses_the_last_output_axis(rng, rank, data_format):
    """softmax on a locally-connected output normalizes its last axis in its own
    layout; fuse-activation folds it into the op, so interpreting the optimized
    graph must agree too."""
    shape = image_shape((6,) * rank, 2, data_format)
    model, layer = local_model(rank, shape, 3, 2, data_format=data_format,
                               activation="softmax")
    randomize(layer, rng)
    xs = data(rng, (2, *shape), 2.0)
    kernel, bias = layer.get_weights()
    want = np_local(xs, kernel, bias, (2,) * rank, (1,) * rank, data_format, "softmax")
    compiled = layerc.compile(model)
    check_against(model, xs, want, compiled)
    fused = [n.attrs.activation for n in compiled.graph.nodes() if n.op.value == "local"]
    assert fused == ["softmax"], f"expected softmax fused into the local op, got {fused}"
    got = np.asarray(layerc.ir.interpret(compiled.graph, [xs.copy()])[0])
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL,
                               err_msg="interpret(optimized graph)")


# ----- refusals -----
@pytest.mark.parametrize("padding", ["same", "causal", "full"])
@pytest.mark.parametrize("cls", [LocallyConnected1D, LocallyConnected2D])
def test_local_padding_other_than_valid_is_config_error(cls, padding):
    with pytest.raises(layerc.ConfigError, match=r"refused_local.*padding"):
        cls(4, 3, padding=padding, name="refused_local")


@pytest.mark.parametrize("rank,shape,kernel_size,data_format", [
    (1, (2, 3), 3, "channels_last"),
    (1, (3, 2), 3, "channels_first"),
    (2, (5, 2, 3), (3, 3), "channels_last"),
    (2, (3, 5, 2), (1, 3), "channels_first"),
])
def test_local_kernel_larger_than_input_is_shape_error_naming_the_layer(rank, shape,
                                                                        kernel_size,
                                                                        data_format):
    cls = LocallyConnected1D if rank == 1 else LocallyConnected2D
    x = layerc.Input(shape)
    with pytest.raises(layerc.ShapeError, match=r"too_big_local.*larger than the input"):
        cls(2, kernel_size, data_format=data_format, name="too_big_local")(x)
