"""RepeatVector against Keras 3: hypothesis over feature counts, repeats
and batches; the sequence-to-sequence pattern (an LSTM's last state
repeated into a decoder LSTM); through from_keras."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc import ShapeError
from layerc.layers import Input, RepeatVector

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SWEEP = settings(max_examples=10, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@SWEEP
@given(features=st.integers(1, 6), n=st.integers(1, 5), batch=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_repeat_vector_matches_keras(oracle, features, n, batch, seed):
    model = layerc.Sequential([Input((features,)), RepeatVector(n, name="rep")])
    kmodel = oracle.keras.Sequential([oracle.keras.Input((features,)),
                                      oracle.layers.RepeatVector(n, name="rep")])
    x = np.random.default_rng(seed).uniform(-3, 3, (batch, features)).astype(np.float32)
    oracle.check(model, kmodel, x)


def test_sequence_to_sequence_through_from_keras(oracle, rng):
    k = oracle.keras
    kmodel = k.Sequential([k.Input((5, 3)), k.layers.LSTM(4, name="enc"),
                           k.layers.RepeatVector(6, name="rep"),
                           k.layers.LSTM(4, return_sequences=True, name="dec"),
                           k.layers.Dense(3, name="out")])
    for w in kmodel.weights:
        w.assign(rng.uniform(-0.5, 0.5, w.shape).astype(np.float32))
    x = rng.uniform(-1, 1, (3, 5, 3)).astype(np.float32)
    want = oracle.run_keras(kmodel, [x])[0]
    oracle.assert_close(layerc.compile(layerc.from_keras(kmodel)).predict(x), want,
                        "from_keras", 1e-5, 1e-5)


def test_refuses_anything_but_a_feature_vector():
    with pytest.raises(ShapeError, match=r"rep .*expected a \(batch, features\) input"):
        layerc.Sequential([Input((2, 3)), RepeatVector(2, name="rep")])
