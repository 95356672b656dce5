"""Merge layers in functional models against Keras 3: element-wise merges with
2 and 3 inputs, broadcasting inputs of one rank (hypothesis over which axes
are 1), Concatenate over several axes, Dot (hypothesis over ranks, axes of
either sign and normalize), shared layers, several inputs and several
outputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layerc
from layerc.layers import Concatenate

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ELEMENTWISE = ["Add", "Multiply", "Average", "Maximum", "Minimum"]
FUNCTIONS = ["add", "subtract", "multiply", "average", "maximum", "minimum"]


def data(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return rng.uniform(-scale, scale, shape).astype(np.float32)


def branches(ns, n: int, shape: tuple[int, ...], units: int):
    """n inputs, each through its own Dense(name=f"branch{i}")."""
    inputs = [ns.Input(shape) for _ in range(n)]
    outs = [ns.layers.Dense(units, name=f"branch{i}")(t) for i, t in enumerate(inputs)]
    return inputs, outs


def build_pair(oracle, fn):
    """Runs `fn(ns)` with a layerc and a Keras namespace; it returns (inputs, outputs)."""
    model = layerc.Model(*fn(layerc))
    kmodel = oracle.keras.Model(*fn(oracle.keras))
    return model, kmodel


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("op", ELEMENTWISE)
def test_elementwise_merge(oracle, rng, op, n):
    shape = (3, 4)

    def fn(ns):
        ins, outs = branches(ns, n, shape, 5)
        merged = getattr(ns.layers, op)()(outs)
        return ins, [merged, ns.layers.Dense(2, name="head")(merged)]

    model, kmodel = build_pair(oracle, fn)
    oracle.randomize(model, rng)
    xs = [data(rng, (4, *shape)) for _ in range(n)]
    oracle.check(model, kmodel, xs)


def test_subtract(oracle, rng):
    def fn(ns):
        ins, outs = branches(ns, 2, (6,), 4)
        merged = ns.layers.Subtract()(outs)
        return ins, [merged, ns.layers.Dense(3, activation="relu", name="head")(merged)]

    model, kmodel = build_pair(oracle, fn)
    oracle.randomize(model, rng)
    a, b = data(rng, (5, 6)), data(rng, (5, 6))
    oracle.check(model, kmodel, [a, b])
    oracle.check(model, kmodel, [b, a], copy=False)


def test_subtract_order_matters(oracle, rng):
    """Raw inputs, no Dense: subtract([a, b]) is a - b, not b - a."""
    def fn(ns):
        a, b = ns.Input((3, 2)), ns.Input((3, 2))
        return [a, b], ns.layers.Subtract()([a, b])

    model, kmodel = build_pair(oracle, fn)
    a, b = data(rng, (4, 3, 2)), data(rng, (4, 3, 2))
    out = oracle.check(model, kmodel, [a, b])
    np.testing.assert_allclose(out.compiled[0], a - b, atol=1e-6)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("op", ELEMENTWISE + ["Subtract"])
def test_merge_of_raw_inputs_rank4(oracle, rng, op, n):
    if op == "Subtract" and n == 3:
        n = 2  # Subtract takes exactly two inputs
    shape = (2, 3, 4)

    def fn(ns):
        ins = [ns.Input(shape) for _ in range(n)]
        return ins, getattr(ns.layers, op)()(ins)

    model, kmodel = build_pair(oracle, fn)
    oracle.check(model, kmodel, [data(rng, (3, *shape), 4.0) for _ in range(n)])


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functional_spellings(oracle, rng, name):
    def fn(ns):
        a, b = ns.Input((5,)), ns.Input((5,))
        ha = ns.layers.Dense(4, name="da")(a)
        hb = ns.layers.Dense(4, name="db")(b)
        return [a, b], getattr(ns.layers, name)([ha, hb])

    model, kmodel = build_pair(oracle, fn)
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, [data(rng, (3, 5)), data(rng, (3, 5))])


def test_merge_of_a_tensor_with_itself(oracle, rng):
    def fn(ns):
        x = ns.Input((6,))
        h = ns.layers.Dense(6, name="d")(x)
        return x, [ns.layers.Multiply()([h, h]), ns.layers.Add()([x, h, x])]

    model, kmodel = build_pair(oracle, fn)
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, data(rng, (3, 6)))


# ----- Concatenate -----
@pytest.mark.parametrize("shapes,axis", [
    ([(3,), (5,)], -1),
    ([(3,), (5,)], 1),
    ([(2,), (4,), (1,)], -1),
    ([(2, 4), (3, 4)], 1),          # rank 3, the middle axis
    ([(2, 4), (3, 4), (1, 4)], -2),
    ([(4, 2), (4, 3)], -1),
    ([(4, 2), (4, 3)], 2),
    ([(2, 3, 4), (1, 3, 4)], 1),    # rank 4, first sample axis
    ([(2, 3, 4), (2, 5, 4)], 2),    # rank 4, a middle axis
    ([(2, 3, 4), (2, 1, 4), (2, 2, 4)], -2),
    ([(2, 3, 4), (2, 3, 1)], -1),
    ([(2, 3, 4), (2, 3, 2)], 3),
])
def test_concatenate(oracle, rng, shapes, axis):
    def fn(ns):
        ins = [ns.Input(s) for s in shapes]
        joined = ns.layers.Concatenate(axis=axis)(ins)
        return ins, [joined, ns.layers.Dense(3, name="head")(joined)]

    model, kmodel = build_pair(oracle, fn)
    oracle.randomize(model, rng)
    assert tuple(model.outputs[0].shape) == tuple(kmodel.outputs[0].shape)
    oracle.check(model, kmodel, [data(rng, (3, *s)) for s in shapes])


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_concatenate_of_dense_outputs(oracle, rng, axis):
    """Concatenated buffers that are themselves computed (fused Dense outputs)."""
    def fn(ns):
        a, b = ns.Input((4, 3)), ns.Input((4, 3))
        ha = ns.layers.Dense(5, activation="relu", name="da")(a)
        hb = ns.layers.Dense(5, activation="tanh", name="db")(b)
        joined = ns.layers.Concatenate(axis=axis)([ha, hb, ha])
        return [a, b], ns.layers.Dense(2, name="head")(joined)

    model, kmodel = build_pair(oracle, fn)
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, [data(rng, (3, 4, 3)), data(rng, (3, 4, 3))])


def test_concatenate_function(oracle, rng):
    def fn(ns):
        a, b = ns.Input((2, 3)), ns.Input((2, 4))
        return [a, b], ns.layers.concatenate([a, b], axis=-1)

    model, kmodel = build_pair(oracle, fn)
    assert isinstance(model.layers[-1], Concatenate)
    oracle.check(model, kmodel, [data(rng, (3, 2, 3)), data(rng, (3, 2, 4))])


# ----- shared layers, several inputs and outputs -----
def test_shared_dense_used_twice(oracle, rng):
    def fn(ns):
        a, b = ns.Input((3, 6)), ns.Input((3, 6))
        shared = ns.layers.Dense(4, activation="sigmoid", name="shared")
        ya, yb = shared(a), shared(b)
        diff = ns.layers.Subtract()([ya, yb])
        return [a, b], [ya, diff, ns.layers.Dense(2, name="head")(diff)]

    model, kmodel = build_pair(oracle, fn)
    oracle.randomize(model, rng)
    shared = model.get_layer("shared")
    assert len(shared.get_weights()) == 2  # one set of weights for both calls
    assert shared.get_output_shape_at(0) == shared.get_output_shape_at(1) == (None, 3, 4)
    a, b = data(rng, (4, 3, 6)), data(rng, (4, 3, 6))
    out = oracle.check(model, kmodel, [a, b])
    same = oracle.check(model, kmodel, [a, a], copy=False)
    np.testing.assert_allclose(same.compiled[1], 0.0, atol=1e-6)
    assert np.abs(out.keras[1]).max() > 1e-3


def test_shared_dense_applied_in_sequence(oracle, rng):
    """The same square Dense applied twice in a row: h = d(d(x))."""
    def fn(ns):
        x = ns.Input((5,))
        d = ns.layers.Dense(5, activation="tanh", name="twice")
        h1 = d(x)
        return x, [d(h1), h1]

    model, kmodel = build_pair(oracle, fn)
    oracle.randomize(model, rng)
    oracle.check(model, kmodel, data(rng, (3, 5)))


def test_several_inputs_and_outputs(oracle, rng):
    """Inputs of different ranks, outputs in an order unlike the inputs', one
    output also feeding later layers."""
    def fn(ns):
        L = ns.layers
        a = ns.Input((8,), name="in_a")
        b = ns.Input((3, 4), name="in_b")
        c = ns.Input((2, 3, 4), name="in_c")
        fb = L.Flatten()(b)                                 # (12,)
        fc = L.Reshape((6, 4))(c)                           # (6, 4)
        ha = L.Dense(12, activation="relu", name="ha")(a)   # (12,)
        s = L.Add()([ha, fb])
        seq = L.Concatenate(axis=1)([fc, b])                # (9, 4)
        hs = L.Dense(3, name="hs")(seq)                     # (9, 3)
        out_flat = L.Dense(5, activation="softmax", name="out_flat")(
            L.Concatenate()([s, L.Flatten()(hs)]))          # (5,)
        return [a, b, c], [hs, out_flat, s, L.Maximum()([fc, fc])]

    model, kmodel = build_pair(oracle, fn)
    oracle.randomize(model, rng)
    xs = [data(rng, (4, 8)), data(rng, (4, 3, 4)), data(rng, (4, 2, 3, 4))]
    out = oracle.check(model, kmodel, xs)
    assert [o.shape for o in out.compiled] == [(4, 9, 3), (4, 5), (4, 12), (4, 6, 4)]


def test_output_is_an_input(oracle, rng):
    def fn(ns):
        a, b = ns.Input((4,)), ns.Input((4,))
        return [a, b], [ns.layers.Average()([a, b]), b]

    model, kmodel = build_pair(oracle, fn)
    oracle.check(model, kmodel, [data(rng, (2, 4)), data(rng, (2, 4))])


@settings(max_examples=10, deadline=None)
@given(op=st.sampled_from(ELEMENTWISE + ["Subtract", "Concatenate"]),
       n=st.integers(2, 4), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       batch=st.integers(1, 4), seed=st.integers(0, 2**32 - 1), data_=st.data())
def test_merge_sweep(oracle, op, n, shape, batch, seed, data_):
    rng = np.random.default_rng(seed)
    if op == "Subtract":
        n = 2
    shape = tuple(shape)
    kwargs = {}
    shapes = [shape] * n
    if op == "Concatenate":
        axis = data_.draw(st.integers(1, len(shape)), label="axis")
        kwargs["axis"] = axis if data_.draw(st.booleans(), label="positive") \
            else axis - len(shape) - 1
        sizes = [data_.draw(st.integers(1, 3), label="size") for _ in range(n)]
        shapes = [shape[:axis - 1] + (s,) + shape[axis:] for s in sizes]

    def fn(ns):
        ins = [ns.Input(s) for s in shapes]
        return ins, getattr(ns.layers, op)(**kwargs)(ins)

    model, kmodel = build_pair(oracle, fn)
    oracle.check(model, kmodel, [data(rng, (batch, *s), 3.0) for s in shapes])


@settings(max_examples=10, deadline=None)
@given(shape=st.lists(st.integers(2, 4), min_size=1, max_size=3).map(tuple),
       ones=st.lists(st.lists(st.booleans(), min_size=3, max_size=3), min_size=2, max_size=3),
       op=st.sampled_from(ELEMENTWISE + ["Subtract"]), seed=st.integers(0, 2**32 - 1))
def test_elementwise_merges_broadcast_as_keras(oracle, shape, ones, op, seed):
    """Inputs of one rank whose axes are either the full size or 1."""
    if op == "Subtract":
        ones = ones[:2]
    shapes = [tuple(1 if flag else d for d, flag in zip(shape, flags)) for flags in ones]

    def build(ns):
        ins = [ns.Input(s) for s in shapes]
        return ins, getattr(ns.layers, op)(name="merge")(ins)

    model, kmodel = build_pair(oracle, build)
    rng = np.random.default_rng(seed)
    oracle.check(model, kmodel, [data(rng, (2, *s), 3.0) for s in shapes], atol=1e-5,
                 rtol=1e-6)


def test_broadcasting_refuses_ranks_that_differ_and_sizes_that_clash():
    a, b, c = layerc.Input((4, 5, 3)), layerc.Input((3,)), layerc.Input((4, 2, 3))
    with pytest.raises(layerc.ShapeError, match=r"m .*different ranks.*one rank only"):
        layerc.layers.Add(name="m")([a, b])
    with pytest.raises(layerc.ShapeError, match=r"m .*axis 2 of the inputs.*does not broadcast"):
        layerc.layers.Add(name="m")([a, c])


@settings(max_examples=12, deadline=None)
@given(ranks=st.tuples(st.integers(2, 4), st.integers(2, 4)), data=st.data(),
       normalize=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_dot_matches_keras(oracle, ranks, data, normalize, seed):
    """Any contracted axis of either input (spelled either sign)."""
    k = data.draw(st.integers(1, 4))
    axes, shapes = [], []
    for rank in ranks:
        axis = data.draw(st.integers(1, rank - 1))
        shape = [data.draw(st.integers(1, 3)) for _ in range(rank - 1)]
        shape[axis - 1] = k
        axes.append(axis - rank if data.draw(st.booleans()) else axis)
        shapes.append(tuple(shape))
    if ranks == (2, 2) and data.draw(st.booleans()):
        axes = axes[0]  # one int for both

    def build(ns):
        ins = [ns.Input(s) for s in shapes]
        return ins, ns.layers.Dot(axes=axes, normalize=normalize, name="dot")(ins)

    model, kmodel = build_pair(oracle, build)
    rng = np.random.default_rng(seed)
    oracle.check(model, kmodel, [data_(rng, (2, *s)) for s in shapes], atol=1e-5, rtol=1e-5)


def data_(rng, shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


def test_dot_through_from_keras_and_its_refusals(oracle, rng):
    k = oracle.keras
    a, b = k.Input((4, 3)), k.Input((5, 3))
    kmodel = k.Model([a, b], k.layers.Activation("softmax")(k.layers.dot([a, b], axes=(2, 2))))
    xs = [data_(rng, (2, 4, 3)), data_(rng, (2, 5, 3))]
    oracle.assert_close(layerc.compile(layerc.from_keras(kmodel)).predict(xs),
                        oracle.run_keras(kmodel, xs)[0], "from_keras", 1e-5, 1e-5)
    x, y = layerc.Input((4, 3)), layerc.Input((5, 2))
    with pytest.raises(layerc.ShapeError, match=r"d .*contracted axes differ"):
        layerc.layers.Dot(axes=2, name="d")([x, y])
    with pytest.raises(layerc.ConfigError, match="axes must be an int or a pair"):
        layerc.layers.Dot(axes=(1, 2, 3))
