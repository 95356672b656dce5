"""The 3-D spatial family against Keras 3: Conv3D (strides, padding valid /
same, dilation, groups, bias, activation), MaxPooling3D / AveragePooling3D,
GlobalMax/AveragePooling3D, ZeroPadding3D, Cropping3D and UpSampling3D, each
in both data formats: hypothesis sweeps on small volumes (the reference
interpreter and the compiled model against Keras), chosen cases, from_keras
(objects and a .keras file), the steps the CPU runs them as, and the
refusals naming the layer.

Oracle caveat (DESIGN.md): Keras 3.15 on torch averages replicated edge values
when 'same' average pooling pads an axis unevenly (keras-team/keras#19721),
and its 3-D 'same' average pooling raises when the window is larger than an
axis; those cases are checked against `np_pool`, average over the in-bounds
cells."""

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
from layerc.layers import (AveragePooling3D, Conv3D, Cropping3D, GlobalAveragePooling3D,
                           GlobalMaxPooling3D, Input, MaxPooling3D, UpSampling3D,
                           ZeroPadding3D)

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1:UserWarning"),
]

SWEEP = settings(max_examples=6, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
ATOL = RTOL = 1e-5
FORMATS = ["channels_last", "channels_first"]
ACTIVATIONS = ["linear", "relu", "tanh", "softmax"]


def volume(spatial: tuple[int, ...], channels: int, data_format: str) -> tuple[int, ...]:
    return (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)


def data(rng: np.random.Generator, shape: tuple[int, ...], low: float = -2.0,
         high: float = 2.0) -> np.ndarray:
    return rng.uniform(low, high, shape).astype(np.float32)


def twin(oracle, shape, make):
    """`make(module)` after an Input, in layerc and in Keras."""
    model = layerc.Sequential([Input(shape), make(layerc.layers)])
    kmodel = oracle.keras.Sequential([oracle.keras.Input(shape), make(oracle.layers)])
    return model, kmodel


def check_both_ways(oracle, model, kmodel, x, atol=ATOL, rtol=RTOL):
    """Against Keras as built in layerc (weights copied over), and as converted
    from the Keras model by from_keras."""
    out = oracle.check(model, kmodel, x, atol=atol, rtol=rtol)
    oracle.assert_close(layerc.compile(layerc.from_keras(kmodel)).predict(x),
                        out.keras[0], "from_keras", atol, rtol)
    return out


# ----- Conv3D -----
def check_conv3d(oracle, rng, *, spatial, channels, filters, kernel, strides, dilation,
                 padding, data_format, use_bias, activation, groups=1, batch=2):
    shape = volume(spatial, channels, data_format)
    model, kmodel = twin(oracle, shape, lambda m: m.Conv3D(
        filters, kernel, strides=strides, padding=padding, dilation_rate=dilation,
        data_format=data_format, use_bias=use_bias, activation=activation, groups=groups,
        name="conv"))
    assert model.output_shape == tuple(kmodel.output_shape)
    oracle.randomize(model, rng)
    check_both_ways(oracle, model, kmodel, data(rng, (batch, *shape)))


@st.composite
def conv3d_config(draw, padding: str):
    """Kernel 1-3 per axis, strides or dilation (never both > 1), sides up to 6
    that fit the (dilated) window, channels and filters divisible by groups."""
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    strides = dilation = (1, 1, 1)
    if draw(st.booleans()):
        strides = tuple(draw(st.integers(1, 3)) for _ in range(3))
    elif draw(st.booleans()):
        dilation = tuple(draw(st.integers(1, 2)) for _ in range(3))
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    spatial = tuple(draw(st.integers(s if padding == "valid" else 1, 6)) for s in spans)
    groups = draw(st.sampled_from([1, 1, 2]))
    return dict(kernel=kernel, strides=strides, dilation=dilation, spatial=spatial,
                groups=groups, channels=groups * draw(st.integers(1, 2)),
                filters=groups * draw(st.integers(1, 3)))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv3d_sweep(oracle, padding, data_format):
    @SWEEP
    @example_seed(zlib.crc32(f"conv3d-{padding}-{data_format}".encode()))
    @given(cfg=conv3d_config(padding), use_bias=st.booleans(),
           activation=st.sampled_from(ACTIVATIONS), batch=st.integers(1, 2),
           seed=st.integers(0, 2**32 - 1))
    def sweep(cfg, use_bias, activation, batch, seed):
        check_conv3d(oracle, np.random.default_rng(seed), padding=padding,
                     data_format=data_format, use_bias=use_bias, activation=activation,
                     batch=batch, **cfg)

    sweep()


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kernel,strides,dilation,padding,groups", [
    ((1, 1, 1), (1, 1, 1), (1, 1, 1), "valid", 1),  # pointwise: the plain GEMM
    ((3, 3, 3), (1, 1, 1), (1, 1, 1), "same", 1),
    ((2, 3, 2), (2, 2, 3), (1, 1, 1), "same", 1),   # uneven TF 'same' pads
    ((2, 2, 2), (1, 1, 1), (2, 1, 2), "valid", 1),
    ((3, 1, 2), (1, 1, 1), (1, 1, 1), "same", 4),   # depthwise-like: one channel per group
    ((4, 2, 2), (3, 1, 1), (1, 1, 1), "same", 2),   # kernel deeper than the input
], ids=["pointwise", "same3", "strided_same", "dilated", "groups4", "deep_kernel"])
def test_conv3d_cases(oracle, rng, data_format, kernel, strides, dilation, padding, groups):
    check_conv3d(oracle, rng, spatial=(3, 5, 4), channels=4, filters=4, kernel=kernel,
                 strides=strides, dilation=dilation, padding=padding, data_format=data_format,
                 use_bias=True, activation="relu", groups=groups, batch=3)


@pytest.mark.parametrize("data_format", FORMATS)
def test_conv3d_pool_flatten_dense_stack(oracle, rng, data_format):
    """Conv3D -> MaxPooling3D -> Flatten -> Dense (a 3-D CNN's head), and a
    ZeroPadding3D that fold-padding takes into the convolution."""
    shape = volume((4, 6, 5), 2, data_format)

    def make(m):
        return [m.ZeroPadding3D(1, data_format=data_format, name="pad"),
                m.Conv3D(3, 3, activation="relu", data_format=data_format, name="conv"),
                m.MaxPooling3D(2, data_format=data_format, name="pool"),
                m.Flatten(name="flat"), m.Dense(4, name="dense")]

    model = layerc.Sequential([Input(shape), *make(layerc.layers)])
    kmodel = oracle.keras.Sequential([oracle.keras.Input(shape), *make(oracle.layers)])
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, data(rng, (3, *shape)), atol=ATOL, rtol=RTOL)
    optimized = layerc.compile(model).graph
    assert [n.op.value for n in optimized.nodes()][:3] == ["input", "conv", "pool"]


# ----- pooling -----
def same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def np_pool(x, mode, pool, strides, padding, data_format):
    """Each window clipped to the input: max never sees padding, average
    divides by the in-bounds cells only."""
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    spatial = x.shape[1:-1]
    if padding == "valid":
        before = [0] * 3
        out = [(n - k) // s + 1 for n, k, s in zip(spatial, pool, strides)]
    else:
        before = [same_pads(n, k, s)[0] for n, k, s in zip(spatial, pool, strides)]
        out = [-(-n // s) for n, s in zip(spatial, strides)]
    y = np.empty((x.shape[0], *out, x.shape[-1]))
    for pos in itertools.product(*(range(o) for o in out)):
        window = [slice(None)] + [slice(max(i * s - b, 0), min(i * s - b + k, n))
                                  for i, k, s, b, n in zip(pos, pool, strides, before, spatial)]
        cells = x[tuple(window)].astype(np.float64).reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None), *pos)] = cells.max(axis=1) if mode == "max" else cells.mean(axis=1)
    y = y.astype(np.float32)
    return np.moveaxis(y, -1, 1) if data_format == "channels_first" else y


def check_pool3d(oracle, rng, *, mode, spatial, channels, pool, strides, padding, data_format,
                 batch):
    cls = "MaxPooling3D" if mode == "max" else "AveragePooling3D"
    shape = volume(spatial, channels, data_format)
    model, kmodel = twin(oracle, shape, lambda m: getattr(m, cls)(
        pool, strides=strides, padding=padding, data_format=data_format, name="pool"))
    steps = pool if strides is None else strides
    # all negative for max pooling, so that a zero pad would win
    xs = data(rng, (batch, *shape), *((-5.0, -0.5) if mode == "max" else (-3.0, 3.0)))
    want = np_pool(xs, mode, pool, steps, padding, data_format)
    assert model.output_shape == (None, *want.shape[1:])
    uneven = padding == "same" and any(
        a != b for a, b in (same_pads(n, k, s) for n, k, s in zip(spatial, pool, steps)))
    # keras-team/keras#19721; and Keras 3.15/torch's 3-D 'same' average pooling
    # raises when a window is larger than its axis ("input image smaller than
    # kernel size"), where its 2-D one pads
    if mode == "avg" and (uneven or any(k > n for k, n in zip(pool, spatial))):
        got = {"interpret": layerc.ir.interpret(model.to_graph(), [xs.copy()])[0],
               "compiled": layerc.compile(model).predict(xs.copy()),
               "from_keras": layerc.compile(layerc.from_keras(kmodel)).predict(xs.copy())}
        for what, values in got.items():
            oracle.assert_close(values, want, f"{what} vs NumPy", ATOL, RTOL)
        return
    out = check_both_ways(oracle, model, kmodel, xs)
    oracle.assert_close(want, out.keras[0], "np_pool", ATOL, RTOL)


@st.composite
def pool3d_config(draw, padding: str):
    pool = tuple(draw(st.integers(1, 3)) for _ in range(3))
    strides = None if draw(st.booleans()) else tuple(draw(st.integers(1, 3)) for _ in range(3))
    spatial = tuple(draw(st.integers(k if padding == "valid" else 1, 6)) for k in pool)
    return dict(pool=pool, strides=strides, spatial=spatial)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool3d_sweep(oracle, mode, padding, data_format):
    @SWEEP
    @example_seed(zlib.crc32(f"pool3d-{mode}-{padding}-{data_format}".encode()))
    @given(cfg=pool3d_config(padding), channels=st.integers(1, 3), batch=st.integers(1, 2),
           seed=st.integers(0, 2**32 - 1))
    def sweep(cfg, channels, batch, seed):
        check_pool3d(oracle, np.random.default_rng(seed), mode=mode, padding=padding,
                     data_format=data_format, channels=channels, batch=batch, **cfg)

    sweep()


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("spatial,pool,strides,padding", [
    ((4, 4, 4), (2, 2, 2), None, "valid"),
    ((5, 3, 4), (3, 2, 2), (2, 1, 2), "valid"),  # overlapping in depth, gaps nowhere
    ((3, 5, 6), (2, 2, 2), None, "same"),       # uneven pads on the odd axes
    ((2, 3, 2), (4, 4, 4), (1, 1, 1), "same"),  # windows larger than every axis
], ids=["valid", "overlap", "uneven_same", "huge_same"])
def test_pool3d_cases(oracle, rng, mode, data_format, spatial, pool, strides, padding):
    check_pool3d(oracle, rng, mode=mode, spatial=spatial, channels=3, pool=pool,
                 strides=strides, padding=padding, data_format=data_format, batch=2)


def test_pool3d_defaults_and_aliases():
    for cls in (MaxPooling3D, AveragePooling3D):
        layer = cls()
        assert (layer.pool_size, layer.strides, layer.padding) == ((2, 2, 2), (2, 2, 2), "valid")
        assert cls((3, 2, 1)).strides == (3, 2, 1)
    assert layerc.layers.MaxPool3D is MaxPooling3D
    assert layerc.layers.AvgPool3D is AveragePooling3D
    assert layerc.layers.GlobalMaxPool3D is GlobalMaxPooling3D
    assert layerc.layers.GlobalAvgPool3D is GlobalAveragePooling3D


@SWEEP
@given(mode=st.sampled_from(["max", "avg"]),
       spatial=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
       channels=st.integers(1, 4), data_format=st.sampled_from(FORMATS),
       keepdims=st.booleans(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_global_pool3d_sweep(oracle, mode, spatial, channels, data_format, keepdims, batch,
                             seed):
    cls = "GlobalMaxPooling3D" if mode == "max" else "GlobalAveragePooling3D"
    shape = volume(spatial, channels, data_format)
    model, kmodel = twin(oracle, shape, lambda m: getattr(m, cls)(
        data_format=data_format, keepdims=keepdims, name="gpool"))
    expected = (None, *volume((1, 1, 1), channels, data_format)) if keepdims \
        else (None, channels)
    assert model.output_shape == tuple(kmodel.output_shape) == expected
    check_both_ways(oracle, model, kmodel, data(np.random.default_rng(seed), (batch, *shape)))


# ----- padding, cropping, upsampling -----
AMOUNTS = st.tuples(*[st.tuples(st.integers(0, 2), st.integers(0, 2))] * 3)


@SWEEP
@given(spatial=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
       channels=st.integers(1, 3), pad=AMOUNTS, crop=AMOUNTS,
       fmt=st.sampled_from(FORMATS), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_3d_padding_and_cropping_match_keras(oracle, spatial, channels, pad, crop, fmt, batch,
                                             seed):
    shape = volume(spatial, channels, fmt)
    x = data(np.random.default_rng(seed), (batch, *shape))
    model, kmodel = twin(oracle, shape, lambda m: m.ZeroPadding3D(pad, data_format=fmt,
                                                                  name="z"))
    check_both_ways(oracle, model, kmodel, x, atol=1e-6, rtol=0.0)
    if all(sum(c) < n for c, n in zip(crop, spatial)):
        model, kmodel = twin(oracle, shape, lambda m: m.Cropping3D(crop, data_format=fmt,
                                                                   name="c"))
        check_both_ways(oracle, model, kmodel, x, atol=1e-6, rtol=0.0)


@SWEEP
@given(spatial=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
       channels=st.integers(1, 3),
       size=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
       fmt=st.sampled_from(FORMATS), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_upsampling_3d_matches_keras(oracle, spatial, channels, size, fmt, batch, seed):
    shape = volume(spatial, channels, fmt)
    model, kmodel = twin(oracle, shape, lambda m: m.UpSampling3D(size, data_format=fmt,
                                                                 name="u"))
    check_both_ways(oracle, model, kmodel, data(np.random.default_rng(seed), (batch, *shape)),
                    atol=1e-6, rtol=0.0)


@pytest.mark.parametrize("make,kwargs", [
    (ZeroPadding3D, {}), (ZeroPadding3D, {"padding": 2}),
    (ZeroPadding3D, {"padding": (1, 0, 2)}), (Cropping3D, {}),
    (Cropping3D, {"cropping": (1, 0, 1)}), (UpSampling3D, {}), (UpSampling3D, {"size": 3})])
def test_3d_spellings_match_keras(oracle, rng, make, kwargs):
    """Keras's defaults and its int / one-per-axis spellings."""
    shape = (4, 3, 5, 2)
    model, kmodel = twin(oracle, shape, lambda m: getattr(m, make.__name__)(**kwargs))
    assert model.output_shape == tuple(kmodel.output_shape)
    check_both_ways(oracle, model, kmodel, data(rng, (2, *shape)), atol=1e-6, rtol=0.0)


# ----- from_keras of a whole 3-D model, through a .keras file -----
def test_3d_model_from_a_keras_file(oracle, rng, tmp_path):
    k = oracle.keras
    x = k.Input((6, 6, 6, 2))
    y = k.layers.Conv3D(4, 3, padding="same", activation="relu", groups=2)(x)
    y = k.layers.AveragePooling3D(2)(y)
    y = k.layers.UpSampling3D((1, 2, 1))(y)
    y = k.layers.Cropping3D(((0, 1), (1, 1), (0, 0)))(y)
    y = k.layers.ZeroPadding3D(((1, 0), (0, 0), (0, 1)))(y)
    y = k.layers.SpatialDropout3D(0.3)(y)
    y = k.layers.Conv3D(3, (1, 2, 2), strides=(1, 2, 2))(y)
    y = k.layers.MaxPooling3D((2, 1, 1), padding="same")(y)
    y = k.layers.GlobalAveragePooling3D()(y)
    kmodel = k.Model(x, y)
    path = tmp_path / "volume.keras"
    kmodel.save(path)
    xs = data(rng, (3, 6, 6, 6, 2))
    want = oracle.run_keras(kmodel, [xs])[0]
    for source in (kmodel, str(path)):
        model = layerc.from_keras(source)
        oracle.assert_close(layerc.compile(model).predict(xs.copy()), want, "compiled",
                            ATOL, RTOL)
        oracle.assert_close(layerc.ir.interpret(model.to_graph(), [xs.copy()])[0], want,
                            "interpret", ATOL, RTOL)


# ----- what the CPU runs -----
def plan_steps(model) -> list[str]:
    return [line.split()[0] for line in layerc.compile(model).program.text.splitlines()
            if not line.startswith(";")]


def test_cpu_runs_3d_pooling_as_two_2d_pool_steps_and_upsampling_as_two_copies():
    model = layerc.Sequential([Input((4, 6, 6, 3)), MaxPooling3D(2)])
    assert plan_steps(model) == ["pool", "pool"]
    model = layerc.Sequential([Input((2, 3, 4, 5)), UpSampling3D((2, 2, 2))])
    assert plan_steps(model) == ["strided", "strided"]


def test_conv3d_takes_no_pooling_into_its_step():
    """The CPU's conv + max pooling step is 2-D (conv_pool.py): a 3-D pair
    runs as its two steps."""
    model = layerc.Sequential([Input((4, 6, 6, 3)), Conv3D(4, 3, padding="same",
                                                           activation="relu"),
                               MaxPooling3D(2)])
    assert plan_steps(model) == ["conv", "pool", "pool"]


@pytest.mark.parametrize("make", [
    lambda: Conv3D(3, (1, 2, 3), strides=(2, 1, 1), padding="same", use_bias=False,
                   data_format="channels_first", activation="relu"),
    lambda: Conv3D(4, 2, dilation_rate=(1, 2, 1), groups=2),
    lambda: MaxPooling3D((1, 2, 2), padding="same"), lambda: AveragePooling3D(2, strides=1),
    lambda: GlobalMaxPooling3D(keepdims=True),
    lambda: GlobalAveragePooling3D(data_format="channels_first"),
    lambda: ZeroPadding3D((1, 2, 0)), lambda: Cropping3D(((0, 1), (1, 0), (2, 2))),
    lambda: UpSampling3D((1, 2, 3), data_format="channels_first")])
def test_3d_layer_configs_round_trip(make):
    layer = make()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    assert layerc.layers.deserialize(layerc.layers.serialize(layer)).get_config() == config


# ----- refusals -----
@pytest.mark.parametrize("make,message", [
    (lambda: Conv3D(4, 3, strides=2, dilation_rate=2, name="refused"),
     r"refused.*strides.*dilation"),
    (lambda: Conv3D(4, 3, padding="causal", name="refused"), r"refused.*padding.*causal"),
    (lambda: Conv3D(4, (3, 3), name="refused"), r"refused.*kernel_size.*3 positive"),
    (lambda: Conv3D(6, 3, groups=4, name="refused"), r"refused.*filters=6.*groups=4"),
    (lambda: MaxPooling3D(2, padding="causal", name="refused"), r"refused.*padding"),
    (lambda: AveragePooling3D((2, 2), name="refused"), r"refused.*pool_size"),
    (lambda: ZeroPadding3D(-1, name="refused"), r"refused.*padding must be"),
    (lambda: Cropping3D(((1, 1), (1, 1)), name="refused"), r"refused.*cropping must be"),
    (lambda: UpSampling3D((2, 2), name="refused"), r"refused.*size must be"),
], ids=["strides_and_dilation", "causal", "kernel_rank", "groups", "pool_causal",
        "pool_rank", "negative_pad", "crop_rank", "size_rank"])
def test_bad_options_are_config_errors_naming_the_layer(make, message):
    with pytest.raises(layerc.ConfigError, match=message):
        make()


@pytest.mark.parametrize("layer,shape,message", [
    (lambda: Conv3D(3, (2, 4, 2), name="too_big"), (3, 3, 3, 2),
     r"too_big.*larger than the input"),
    (lambda: Conv3D(3, 2, name="wrong_rank"), (4, 4, 2), r"wrong_rank.*expected input rank 5"),
    (lambda: MaxPooling3D((1, 1, 4), name="too_big"), (3, 3, 3, 2),
     r"too_big.*larger than the input"),
    (lambda: GlobalMaxPooling3D(name="wrong_rank"), (4, 4, 2),
     r"wrong_rank.*expected input rank 5"),
    (lambda: Cropping3D(((1, 2), (0, 0), (0, 0)), name="c"), (3, 3, 3, 2),
     r"c .*cropping 1 \+ 2 values from axis 1 of size 3 leaves nothing"),
    (lambda: ZeroPadding3D(1, name="z"), (4, 3, 2), r"z .*expected a rank-5 input"),
    (lambda: UpSampling3D(name="u"), (4, 3, 2), r"u .*expected a rank-5 input"),
])
def test_shape_errors_name_the_layer(layer, shape, message):
    with pytest.raises(layerc.ShapeError, match=message):
        layerc.Sequential([Input(shape), layer()])


def test_keras_options_layerc_lacks_are_refused_by_name(oracle):
    k = oracle.keras
    kmodel = k.Sequential([k.Input((4, 4, 4, 2)),
                           k.layers.Conv3D(2, 2, dtype="mixed_float16", name="half")])
    with pytest.raises(layerc.ConfigError, match=r"'half'.*Conv3D.*dtype=.*mixed_float16"):
        layerc.from_keras(kmodel)
