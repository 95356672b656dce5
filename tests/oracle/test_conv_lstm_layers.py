"""ConvLSTM1D/2D/3D against Keras 3: hypothesis over filters, kernels,
strides or dilation, padding, data formats, activations, bias,
return_sequences, return_state and go_backwards, through the reference
interpreter, the compiled model and from_keras; the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.errors import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ATOL = 2e-5
SWEEP = settings(max_examples=15, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@SWEEP
@given(rank=st.sampled_from([1, 2, 2, 3]), filters=st.integers(1, 3), kernel=st.integers(1, 3),
       stride=st.integers(1, 2), dilated=st.booleans(), padding=st.sampled_from(["valid", "same"]),
       first=st.booleans(), steps=st.integers(1, 3), channels=st.integers(1, 2),
       activation=st.sampled_from(["tanh", "relu"]),
       recurrent_activation=st.sampled_from(["sigmoid", "hard_sigmoid"]),
       use_bias=st.booleans(), sequences=st.booleans(), state=st.booleans(),
       backwards=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv_lstm_matches_keras(oracle, rank, filters, kernel, stride, dilated, padding, first,
                                 steps, channels, activation, recurrent_activation, use_bias,
                                 sequences, state, backwards, seed):
    side = 4 if rank < 3 else 3
    spatial = (side + 1, side)[:rank] if rank < 3 else (side,) * 3
    shape = (steps, channels, *spatial) if first else (steps, *spatial, channels)
    options = dict(filters=filters, kernel_size=kernel, strides=1 if dilated else stride,
                   dilation_rate=2 if dilated and kernel > 1 else 1, padding=padding,
                   data_format="channels_first" if first else "channels_last",
                   activation=activation, recurrent_activation=recurrent_activation,
                   use_bias=use_bias, return_sequences=sequences, return_state=state,
                   go_backwards=backwards, name="cl")
    cls = f"ConvLSTM{rank}D"

    def build(ns):
        x = ns.Input(shape)
        return ns.Model(x, getattr(ns.layers, cls)(**options)(x))

    model, kmodel = build(layerc), build(oracle.keras)
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng)
    x = rng.uniform(-1, 1, (2, *shape)).astype(np.float32)
    out = oracle.check(model, kmodel, [x], atol=ATOL, rtol=1e-5)
    converted = layerc.compile(layerc.from_keras(kmodel)).predict(x)
    converted = converted if isinstance(converted, list) else [converted]
    for i, (c, k) in enumerate(zip(converted, out.keras)):
        oracle.assert_close(c, k, f"from_keras output {i}", ATOL, 1e-5)


def test_refusals():
    with pytest.raises(ConfigError, match="stateful=True is not supported"):
        layerc.layers.ConvLSTM2D(2, 3, stateful=True)
    x = layerc.Input((3, 4, 4, 2))
    with pytest.raises(ConfigError, match="initial_state is not supported"):
        layerc.layers.ConvLSTM2D(2, 3)(x, initial_state=[x, x])
    with pytest.raises(layerc.ShapeError, match=r"expected \(batch, steps, 2 spatial axes"):
        layerc.Sequential([layerc.Input((4, 4, 2)), layerc.layers.ConvLSTM2D(2, 3)])
