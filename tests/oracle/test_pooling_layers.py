"""MaxPooling1D/2D, AveragePooling1D/2D and the global poolings against Keras 3,
with hypothesis sweeps over sizes, pool sizes, strides (None or explicit),
paddings and both data formats.

Oracle caveat (DESIGN.md): Keras 3.15 on torch pads 'same' average pooling by
replicating edge values when the padding of an axis is uneven
(keras-team/keras#19721), so those cases are checked against `np_pool` below,
an independent NumPy definition (average over the in-bounds cells only);
everything else is checked against Keras. Max pooling pads with -inf: its
inputs here are all negative, so a zero pad would show."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as example_seed
from hypothesis import strategies as st

import layerc
import layerc.ir
from layerc.layers import AveragePooling1D, AveragePooling2D, MaxPooling1D, MaxPooling2D

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SWEEP = settings(max_examples=10, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

ATOL = RTOL = 1e-5
FORMATS = ["channels_last", "channels_first"]
NAMES = {("max", 1): "MaxPooling1D", ("avg", 1): "AveragePooling1D",
         ("max", 2): "MaxPooling2D", ("avg", 2): "AveragePooling2D"}
GLOBAL_NAMES = {("max", 1): "GlobalMaxPooling1D", ("avg", 1): "GlobalAveragePooling1D",
                ("max", 2): "GlobalMaxPooling2D", ("avg", 2): "GlobalAveragePooling2D"}


def image_shape(spatial: tuple[int, ...], channels: int, data_format: str) -> tuple[int, ...]:
    return (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)


def inputs(rng: np.random.Generator, mode: str, shape: tuple[int, ...]) -> np.ndarray:
    """All negative for max pooling (a zero pad would win the max), mixed for average."""
    low, high = (-5.0, -0.5) if mode == "max" else (-3.0, 3.0)
    return rng.uniform(low, high, shape).astype(np.float32)


# ----- an independent NumPy definition -----
def same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TF 'same': ceil(n / s) outputs, the odd padding cell at the end."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def is_uneven(spatial, pool, strides, padding) -> bool:
    return padding == "same" and any(
        a != b for a, b in (same_pads(n, k, s) for n, k, s in zip(spatial, pool, strides)))


def np_pool(x: np.ndarray, mode: str, pool, strides, padding: str, data_format: str):
    """Loops over output positions; each window is clipped to the input, so max
    never sees padding and average divides by the in-bounds cells only."""
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    spatial = x.shape[1:-1]
    if padding == "valid":
        before = [0] * len(spatial)
        out = [(n - k) // s + 1 for n, k, s in zip(spatial, pool, strides)]
    else:
        before = [same_pads(n, k, s)[0] for n, k, s in zip(spatial, pool, strides)]
        out = [-(-n // s) for n, s in zip(spatial, strides)]
    y = np.empty((x.shape[0], *out, x.shape[-1]), dtype=np.float64)
    for pos in itertools.product(*(range(o) for o in out)):
        window = [slice(None)]
        for i, k, s, b, n in zip(pos, pool, strides, before, spatial):
            start = i * s - b
            window.append(slice(max(start, 0), min(start + k, n)))
        cells = x[tuple(window)].astype(np.float64)
        cells = cells.reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None), *pos)] = cells.max(axis=1) if mode == "max" else cells.mean(axis=1)
    y = y.astype(np.float32)
    return np.moveaxis(y, -1, 1) if data_format == "channels_first" else y


def test_np_pool_matches_hand_computed_values():
    """The NumPy definition itself: 'same' average of [1, 2, 3, 4, 5] with
    pool 2, stride 2 pads (0, 1): windows [1, 2], [3, 4], [5] -> 1.5, 3.5, 5."""
    x = np.array([1, 2, 3, 4, 5], np.float32).reshape(1, 5, 1)
    np.testing.assert_array_equal(np_pool(x, "avg", (2,), (2,), "same", "channels_last")
                                  .ravel(), [1.5, 3.5, 5.0])
    # pool 4, stride 1 pads (1, 2): [1,2,3], [1..4], [2..5], [3,4,5], [4,5]
    np.testing.assert_allclose(np_pool(x, "avg", (4,), (1,), "same", "channels_last").ravel(),
                               [2.0, 2.5, 3.5, 4.0, 4.5])
    np.testing.assert_array_equal(np_pool(-x, "max", (4,), (1,), "same", "channels_last")
                                  .ravel(), [-1, -1, -2, -3, -4])


# ----- the comparison -----
def run_layerc(model, xs: np.ndarray) -> dict[str, np.ndarray]:
    return {"interpret": np.asarray(layerc.ir.interpret(model.to_graph(), [xs.copy()])[0]),
            "compiled": np.asarray(layerc.compile(model).predict(xs.copy()))}


def check_pool(oracle, rng, *, mode, spatial, channels, pool, strides, padding, data_format,
               batch):
    rank = len(spatial)
    shape = image_shape(spatial, channels, data_format)
    x = layerc.Input(shape)
    layer = getattr(layerc.layers, NAMES[mode, rank])(pool, strides=strides, padding=padding,
                                                      data_format=data_format, name="pool")
    model = layerc.Model(x, layer(x))
    eff_strides = pool if strides is None else strides
    assert layer.strides == tuple(eff_strides)
    xs = inputs(rng, mode, (batch, *shape))
    want = np_pool(xs, mode, pool, eff_strides, padding, data_format)
    assert model.output_shape == (None, *want.shape[1:])
    if mode == "avg" and is_uneven(spatial, pool, eff_strides, padding):
        # keras-team/keras#19721: Keras 3.15/torch is wrong here; use NumPy.
        for what, got in run_layerc(model, xs).items():
            oracle.assert_close(got, want, f"{what} vs NumPy", ATOL, RTOL)
        return
    kx = oracle.keras.Input(shape)
    kmodel = oracle.keras.Model(kx, getattr(oracle.layers, NAMES[mode, rank])(
        pool, strides=strides, padding=padding, data_format=data_format, name="pool")(kx))
    out = oracle.check(model, kmodel, xs, atol=ATOL, rtol=RTOL)
    # and the NumPy definition agrees with Keras wherever Keras is trusted
    oracle.assert_close(want, out.keras[0], "np_pool", ATOL, RTOL)


@st.composite
def pool_config(draw, rank: int, padding: str):
    pool = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    strides = None if draw(st.booleans()) else tuple(draw(st.integers(1, 3))
                                                     for _ in range(rank))
    # 'valid' needs the window to fit; 'same' may pool over more than the input
    spatial = tuple(draw(st.integers(k if padding == "valid" else 1, 12)) for k in pool)
    return dict(padding=padding, pool=pool, strides=strides, spatial=spatial)


COMMON = dict(channels=st.integers(1, 4), batch=st.integers(1, 3),
              seed=st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("rank", [1, 2])
def test_pool_sweep(oracle, rank, mode, padding, data_format):
    @SWEEP
    # each case draws its own examples (a derandomized sweep would repeat them)
    @example_seed(zlib.crc32(f"pool{rank}-{mode}-{padding}-{data_format}".encode()))
    @given(cfg=pool_config(rank, padding), **COMMON)
    def sweep(cfg, channels, batch, seed):
        check_pool(oracle, np.random.default_rng(seed), mode=mode, channels=channels,
                   data_format=data_format, batch=batch, **cfg)

    sweep()


# ----- chosen cases -----
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("spatial,pool,strides,padding", [
    ((8,), (2,), None, "valid"),
    ((9,), (2,), None, "valid"),         # last cell dropped
    ((9,), (3,), (2,), "valid"),         # overlapping windows
    ((10,), (2,), (3,), "valid"),        # gaps between windows
    ((6,), (3,), (1,), "same"),          # even pads (1, 1)
    ((7,), (2,), None, "same"),          # uneven (0, 1)
    ((5,), (4,), (1,), "same"),          # uneven (1, 2)
    ((2,), (4,), None, "same"),          # pool larger than the input: (1, 1)
    ((1,), (4,), None, "same"),          # pool larger than the input: (1, 2)
    ((6, 7), (2, 2), None, "valid"),
    ((7, 7), (3, 3), (2, 2), "same"),    # even (1, 1) per axis
    ((7, 6), (2, 2), None, "same"),      # uneven rows only
    ((5, 8), (3, 2), (2, 3), "same"),
    ((3, 2), (4, 4), (1, 1), "same"),    # pool larger than both axes
], ids=lambda v: str(v).replace(" ", ""))
def test_pool_cases(oracle, rng, mode, data_format, spatial, pool, strides, padding):
    check_pool(oracle, rng, mode=mode, spatial=spatial, channels=3, pool=pool,
               strides=strides, padding=padding, data_format=data_format, batch=2)


@pytest.mark.parametrize("data_format", FORMATS)
def test_uneven_same_average_counts_only_in_bounds_cells(rng, data_format):
    """The hand-checked case: a 'same' AveragePooling2D whose last window in
    each axis holds one in-bounds row/column (the padded one must not count)."""
    shape = image_shape((3, 3), 1, data_format)
    x = layerc.Input(shape)
    model = layerc.Model(x, AveragePooling2D(2, padding="same", data_format=data_format)(x))
    grid = np.arange(9, dtype=np.float32).reshape(3, 3)
    xs = grid.reshape(1, *shape)
    want = np.array([[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]], np.float32)
    for what, got in run_layerc(model, xs).items():
        np.testing.assert_allclose(got.reshape(2, 2), want, rtol=0, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_strides_none_means_pool_size(mode):
    layer = getattr(layerc.layers, NAMES[mode, 2])((3, 2))
    assert layer.strides == (3, 2)
    layer1 = getattr(layerc.layers, NAMES[mode, 1])(3, strides=None)
    assert layer1.strides == (3,)
    assert layer1(layerc.Input((10, 2))).shape == (None, 3, 2)


@pytest.mark.parametrize("cls,shape", [(MaxPooling1D, (2, 3)), (AveragePooling1D, (2, 3)),
                                       (MaxPooling2D, (5, 2, 3)), (AveragePooling2D, (2, 5, 3))])
def test_valid_pool_larger_than_input_is_shape_error_naming_the_layer(cls, shape):
    x = layerc.Input(shape)
    with pytest.raises(layerc.ShapeError, match=r"too_big_pool.*larger than the input"):
        cls(3, name="too_big_pool")(x)


@pytest.mark.parametrize("padding", ["causal", "full"])
def test_pool_padding_other_than_valid_or_same_is_config_error(padding):
    with pytest.raises(layerc.ConfigError, match="padding"):
        MaxPooling1D(2, padding=padding)


# ----- global pooling -----
@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keepdims"])
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("rank", [1, 2])
def test_global_pool(oracle, rng, rank, mode, data_format, keepdims):
    spatial = (7,) if rank == 1 else (5, 6)
    shape = image_shape(spatial, 4, data_format)
    name = GLOBAL_NAMES[mode, rank]
    x = layerc.Input(shape)
    model = layerc.Model(x, getattr(layerc.layers, name)(
        data_format=data_format, keepdims=keepdims, name="gpool")(x))
    expected = (None, *image_shape((1,) * rank, 4, data_format)) if keepdims else (None, 4)
    assert model.output_shape == expected
    kx = oracle.keras.Input(shape)
    kmodel = oracle.keras.Model(kx, getattr(oracle.layers, name)(
        data_format=data_format, keepdims=keepdims, name="gpool")(kx))
    assert tuple(kmodel.output_shape) == expected
    oracle.check(model, kmodel, inputs(rng, mode, (3, *shape)), atol=ATOL, rtol=RTOL)


@SWEEP
@given(rank=st.sampled_from([1, 2]), mode=st.sampled_from(["max", "avg"]),
       spatial=st.lists(st.integers(1, 12), min_size=2, max_size=2),
       channels=st.integers(1, 5), data_format=st.sampled_from(FORMATS),
       keepdims=st.booleans(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_global_pool_sweep(oracle, rank, mode, spatial, channels, data_format, keepdims,
                           batch, seed):
    rng = np.random.default_rng(seed)
    shape = image_shape(tuple(spatial[:rank]), channels, data_format)
    name = GLOBAL_NAMES[mode, rank]
    x = layerc.Input(shape)
    model = layerc.Model(x, getattr(layerc.layers, name)(
        data_format=data_format, keepdims=keepdims, name="gpool")(x))
    kx = oracle.keras.Input(shape)
    kmodel = oracle.keras.Model(kx, getattr(oracle.layers, name)(
        data_format=data_format, keepdims=keepdims, name="gpool")(kx))
    oracle.check(model, kmodel, inputs(rng, mode, (batch, *shape)), atol=ATOL, rtol=RTOL)


def test_pool_stack_after_conv(oracle, rng):
    """Pooling on a conv's output (so the compiled pool reads a planned buffer):
    Conv1D -> MaxPooling1D(same) -> AveragePooling1D(valid) -> GlobalMaxPooling1D."""

    def fn(ns, x):
        y = ns.layers.Conv1D(5, 3, padding="causal", name="conv")(x)
        y = ns.layers.MaxPooling1D(3, strides=2, padding="same", name="p1")(y)
        y = ns.layers.AveragePooling1D(2, padding="valid", name="p2")(y)
        return ns.layers.GlobalMaxPooling1D(name="g")(y)

    x = layerc.Input((13, 3))
    model = layerc.Model(x, fn(layerc, x))
    kx = oracle.keras.Input((13, 3))
    kmodel = oracle.keras.Model(kx, fn(oracle.keras, kx))
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, rng.uniform(-2, 2, (4, 13, 3)).astype(np.float32),
                 atol=ATOL, rtol=RTOL)
