"""Shared machinery for the Keras-oracle tests.

Each oracle test builds one model twice, in layerc and in Keras 3 (torch
backend), copies the layerc weights into the Keras layers of the same name,
and checks that both the NumPy reference interpreter
(`layerc.ir.interpret(model.to_graph(), xs)`) and the compiled model
(`layerc.compile(model).predict(xs)`) agree with Keras.

Keras is imported lazily in a session fixture so collecting the suite stays
fast; KERAS_BACKEND must be set before that import.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("LAYERC_VERIFY", "1")

from dataclasses import dataclass  # noqa: E402
from typing import Any, Sequence  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import layerc  # noqa: E402
import layerc.ir  # noqa: E402

# DESIGN.md, "Numerics": feed-forward layers agree with Keras to 1e-5.
ATOL = 1e-5


def _as_list(x: Any) -> list[np.ndarray]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def assert_close(actual: Any, expected: np.ndarray, what: str, atol: float = ATOL,
                 rtol: float = 0.0) -> None:
    """Same shape, finite, and |actual - expected| <= atol + rtol * |expected|."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape} != Keras shape {expected.shape}")
    assert actual.dtype == np.float32, f"{what}: dtype {actual.dtype}, expected float32"
    assert np.all(np.isfinite(actual)) == np.all(np.isfinite(expected)), (
        f"{what}: non-finite values differ from Keras")
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bound = atol + rtol * np.abs(expected.astype(np.float64))
    bad = err > bound
    if bad.any():
        i = np.unravel_index(np.argmax(err - bound), err.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {err.size} values differ from Keras; max abs "
            f"error {err.max():.3g} (atol {atol:g}, rtol {rtol:g}); worst at {tuple(map(int, i))}:"
            f" layerc {actual[i]!r} vs keras {expected[i]!r}")


@dataclass
class Outputs:
    reference: list[np.ndarray]
    compiled: list[np.ndarray]
    keras: list[np.ndarray]


class Oracle:
    """Helpers bound to the imported keras module."""

    assert_close = staticmethod(assert_close)

    def __init__(self, keras: Any) -> None:
        self.keras = keras
        self.layers = keras.layers

    # ----- weights -----
    @staticmethod
    def randomize(model: Any, rng: np.random.Generator, scale: float = 0.5) -> None:
        """Replaces every layerc weight with uniform noise in [-scale, scale], so
        biases are non-zero and nothing depends on either side's initializer."""
        for layer in model.layers:
            ws = layer.get_weights()
            if ws:
                layer.set_weights([rng.uniform(-scale, scale, w.shape).astype(np.float32)
                                   for w in ws])

    @staticmethod
    def copy_weights(model: Any, keras_model: Any) -> None:
        """layerc layer.get_weights() -> the Keras layer of the same name."""
        copied = set()
        for layer in model.layers:
            ws = layer.get_weights()
            if not ws:
                continue
            klayer = keras_model.get_layer(layer.name)
            kshapes = [tuple(w.shape) for w in klayer.get_weights()]
            assert [w.shape for w in ws] == kshapes, (
                f"{layer.name}: layerc weight shapes {[w.shape for w in ws]} != Keras "
                f"{kshapes}")
            klayer.set_weights(ws)
            copied.add(layer.name)
        missed = [kl.name for kl in keras_model.layers if kl.weights and kl.name not in copied]
        assert not missed, f"Keras layers {missed} have weights but no layerc twin"

    # ----- running -----
    def run_keras(self, keras_model: Any, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        arg = list(xs) if len(xs) > 1 else xs[0]
        out = keras_model(arg, training=False)
        return [np.asarray(self.keras.ops.convert_to_numpy(o)) for o in _as_list(out)]

    def outputs(self, model: Any, keras_model: Any, xs: Any) -> Outputs:
        xs = [np.asarray(x, dtype=np.float32) for x in _as_list(xs)]
        reference = layerc.ir.interpret(model.to_graph(), [x.copy() for x in xs])
        compiled = layerc.compile(model).predict([x.copy() for x in xs])
        return Outputs([np.asarray(r) for r in reference], _as_list(compiled),
                       self.run_keras(keras_model, xs))

    def check(self, model: Any, keras_model: Any, xs: Any, *, copy: bool = True,
              atol: float = ATOL, rtol: float = 0.0) -> Outputs:
        """Copies weights, runs all three, compares both layerc paths with Keras."""
        if copy:
            self.copy_weights(model, keras_model)
        out = self.outputs(model, keras_model, xs)
        n = len(out.keras)
        assert len(out.reference) == n, (
            f"reference interpreter gave {len(out.reference)} outputs, Keras {n}")
        assert len(out.compiled) == n, f"compiled model gave {len(out.compiled)} outputs, Keras {n}"
        for i, (r, c, k) in enumerate(zip(out.reference, out.compiled, out.keras)):
            assert_close(r, k, f"interpret output {i}", atol, rtol)
            assert_close(c, k, f"compiled output {i}", atol, rtol)
        return out


@pytest.fixture(scope="session")
def keras() -> Any:
    import keras as keras_module

    assert keras_module.backend.backend() == "torch", (
        "the oracle tests need KERAS_BACKEND=torch set before keras is first imported, "
        f"got {keras_module.backend.backend()!r}")
    return keras_module


@pytest.fixture(scope="session")
def oracle(keras: Any) -> Oracle:
    return Oracle(keras)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded by the test's id, so each case is reproducible."""
    import zlib

    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
