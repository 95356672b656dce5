"""CompiledModel.predict: input checks, dtypes, chunking, NaN, threads."""

import threading

import numpy as np
import pytest

import layerc
from layerc import InputError
from layerc.layers import Concatenate, Dense


def two_input_model():
    a = layerc.Input((4,), name="a")
    b = layerc.Input((2, 3), name="b")
    flat = layerc.layers.Flatten(name="flat")(b)
    y = Concatenate(name="cat")([Dense(3, name="da")(a), Dense(3, name="db")(flat)])
    return layerc.Model([a, b], [y, Dense(1, name="head")(y)], name="two")


@pytest.fixture(scope="module")
def compiled():
    return layerc.compile(two_input_model())


def inputs(batch=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, 4)).astype(np.float32),
            rng.normal(size=(batch, 2, 3)).astype(np.float32)]


def test_outputs_are_float32_lists_for_several_outputs(compiled):
    out = compiled.predict(inputs())
    assert isinstance(out, list) and [o.shape for o in out] == [(3, 6), (3, 1)]
    assert all(o.dtype == np.float32 for o in out)
    ref = layerc.ir.interpret(compiled.graph, inputs())
    for got, want in zip(out, ref):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_dict_inputs_by_name(compiled):
    x = inputs()
    by_name = compiled.predict({"b": x[1], "a": x[0]})
    np.testing.assert_array_equal(by_name[0], compiled.predict(x)[0])
    with pytest.raises(InputError, match=r"missing \['b'\]"):
        compiled.predict({"a": x[0]})


def test_wrong_count_names_the_inputs(compiled):
    with pytest.raises(InputError, match=r"takes 2 input\(s\) \(a, b\), got 1"):
        compiled.predict([inputs()[0]])


def test_wrong_shape_names_input_expected_and_given(compiled):
    x = inputs()
    with pytest.raises(InputError, match=r"input 'b': expected shape \(None, 2, 3\), "
                                         r"got \(3, 3, 2\)"):
        compiled.predict([x[0], x[1].reshape(3, 3, 2)])
    with pytest.raises(InputError, match=r"input 'a': expected shape \(None, 4\), got \(4,\)"):
        compiled.predict([x[0][0], x[1]])
    with pytest.raises(ValueError):  # InputError is a ValueError
        compiled.predict([x[0], x[1][:2]])


def test_dtypes_float64_is_cast_ints_are_refused(compiled):
    x = inputs()
    got = compiled.predict([x[0].astype(np.float64), x[1].astype(np.float16)])
    want = compiled.predict([x[0], x[1].astype(np.float16).astype(np.float32)])
    np.testing.assert_array_equal(got[0], want[0])
    with pytest.raises(InputError, match="input 'a': expected a float array, got dtype int64"):
        compiled.predict([np.ones((3, 4), np.int64), x[1]])


def test_chunking_matches_one_call_for_any_batch(compiled):
    x = inputs(batch=11, seed=2)
    whole = compiled.predict(x)
    for step in (1, 3, 11, 50):
        for got, want in zip(compiled.predict(x, batch_size=step), whole):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    with pytest.raises(InputError, match="batch_size"):
        compiled.predict(x, batch_size=0)


def test_empty_batch(compiled):
    out = compiled.predict(inputs(batch=0))
    assert [o.shape for o in out] == [(0, 6), (0, 1)]


def test_nan_propagates_without_crashing():
    model = layerc.Sequential([Dense(4, input_shape=(3,), activation="relu"),
                               Dense(3, activation="softmax")])
    x = np.array([[np.nan, 1, 2], [0, 1, 2]], np.float32)
    y = model.predict(x)
    assert np.isnan(y[0]).all()
    assert np.isfinite(y[1]).all()


def test_threads_get_the_same_answers():
    model = layerc.Sequential([Dense(64, input_shape=(32,), activation="tanh"), Dense(8)])
    compiled = layerc.compile(model)
    rng = np.random.default_rng(5)
    batches = [rng.normal(size=(b, 32)).astype(np.float32) for b in (1, 7, 7, 16) * 4]
    expected = [compiled.predict(x) for x in batches]
    results = [None] * len(batches)

    def work(i):
        for _ in range(20):
            results[i] = compiled.predict(batches[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_unknown_target_and_option_are_clear_errors():
    # target='cuda' without a GPU or the simulator: tests/codegen/cuda/test_device.py
    # (in a clean process; this one may hold the simulator).
    model = layerc.Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(layerc.TargetError, match="unknown target 'tpu'"):
        layerc.compile(model, target="tpu")
    with pytest.raises(layerc.ConfigError, match="unknown option"):
        layerc.compile(model, fast=True)
