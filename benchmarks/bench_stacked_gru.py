"""The stacked GRU case: float32 sequences of 50 steps of 32 features:
GRU(64, return_sequences=True) -> GRU(64) -> Dense(8).

Built in Keras (random weights, seeded) and converted with layerc.from_keras.
The torch twin is one native nn.GRU(32, 64, num_layers=2, batch_first=True)
(layer 0 hands its whole sequence to layer 1, as return_sequences=True does),
its last step, then nn.Linear. Each Keras GRU (reset_after=True; gates z, r, h)
maps to one nn.GRU layer (gates r, z, n) with bench_streaming's
torch_gru_weights."""

from __future__ import annotations

from typing import Any

from bench_streaming import torch_gru_weights
from common import Case, from_keras_model

LENGTH, FEATURES, UNITS, OUTPUTS = 50, 32, 64, 8


def build_keras() -> Any:
    import keras

    return keras.Sequential([
        keras.Input((LENGTH, FEATURES)),
        keras.layers.GRU(UNITS, return_sequences=True),
        keras.layers.GRU(UNITS),
        keras.layers.Dense(OUTPUTS),
    ], name="stacked_gru")


def build_torch(layerc_model: Any) -> Any:
    import numpy as np
    import torch

    first, second, dense = layerc_model.layers
    if not first.get_config().get("return_sequences") \
            or second.get_config().get("return_sequences"):
        raise ValueError("bench_stacked_gru.build_torch: return_sequences not mapped")
    if dense.get_config().get("activation") not in (None, "linear"):
        raise ValueError("bench_stacked_gru.build_torch: Dense activation not mapped")
    layer_weights = [torch_gru_weights(first), torch_gru_weights(second)]
    dense_kernel, dense_bias = dense.get_weights()
    units = layer_weights[0][1].shape[1]

    class StackedGRU(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(layer_weights[0][0].shape[1], units, num_layers=2,
                                    batch_first=True)
            self.dense = torch.nn.Linear(units, dense_kernel.shape[1])

        def forward(self, x: Any) -> Any:
            y, _ = self.gru(x)
            return self.dense(y[:, -1])

    module = StackedGRU()
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    with torch.no_grad():
        for i, (weight_ih, weight_hh, bias_ih, bias_hh) in enumerate(layer_weights):
            getattr(module.gru, f"weight_ih_l{i}").copy_(t(weight_ih))
            getattr(module.gru, f"weight_hh_l{i}").copy_(t(weight_hh))
            getattr(module.gru, f"bias_ih_l{i}").copy_(t(bias_ih))
            getattr(module.gru, f"bias_hh_l{i}").copy_(t(bias_hh))
        module.dense.weight.copy_(t(dense_kernel.T))
        module.dense.bias.copy_(t(dense_bias))
    return module.eval()


def make_input(batch: int, rng: Any) -> Any:
    import numpy as np

    return rng.normal(size=(batch, LENGTH, FEATURES)).astype(np.float32)


def case() -> Case:
    return Case(name="stacked gru", layerc_model=from_keras_model(build_keras),
                build_keras=build_keras, make_input=make_input, build_torch=build_torch,
                batches=(1, 64))
