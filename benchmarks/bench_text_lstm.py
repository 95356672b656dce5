"""The text LSTM case: the Keras IMDB LSTM example's network on int32 token ids
of length 80: Embedding(20000, 128) -> LSTM(128) -> Dense(1, sigmoid). No
masking (unlike the `lstm classifier` case), so torch's native nn.LSTM computes
the same thing and is a fair peer.

Built in Keras (random weights, seeded) and converted with layerc.from_keras.
The torch twin is nn.Embedding -> nn.LSTM(batch_first=True) -> last step ->
nn.Linear -> sigmoid. Keras's LSTM kernel is (in, 4u) and its recurrent kernel
(u, 4u), gates i, f, c, o; nn.LSTM's weight_ih is (4u, in) and weight_hh
(4u, u), gates i, f, g, o: the same order, so the kernels are transposed only.
Keras has one bias (4u): it goes to bias_ih, and bias_hh is zeros."""

from __future__ import annotations

from typing import Any

from common import Case, from_keras_model

VOCABULARY, LENGTH, EMBED, UNITS = 20000, 80, 128, 128


def build_keras() -> Any:
    import keras

    return keras.Sequential([
        keras.Input((LENGTH,), dtype="int32"),
        keras.layers.Embedding(VOCABULARY, EMBED),
        keras.layers.LSTM(UNITS),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="text_lstm")


def build_torch(layerc_model: Any) -> Any:
    import numpy as np
    import torch

    embedding, lstm, dense = layerc_model.layers
    config = lstm.get_config()
    if config.get("activation", "tanh") != "tanh" \
            or config.get("recurrent_activation", "sigmoid") != "sigmoid" \
            or config.get("return_sequences") or config.get("go_backwards") \
            or not config.get("use_bias", True):
        raise ValueError("bench_text_lstm.build_torch: LSTM config not mapped")
    if dense.get_config().get("activation") != "sigmoid":
        raise ValueError("bench_text_lstm.build_torch: Dense activation not mapped")
    (table,) = embedding.get_weights()
    kernel, recurrent, bias = lstm.get_weights()
    dense_kernel, dense_bias = dense.get_weights()
    units = recurrent.shape[0]

    class TextLSTM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(*table.shape)
            self.lstm = torch.nn.LSTM(kernel.shape[0], units, batch_first=True)
            self.dense = torch.nn.Linear(units, dense_kernel.shape[1])

        def forward(self, x: Any) -> Any:
            y, _ = self.lstm(self.embedding(x))
            return torch.sigmoid(self.dense(y[:, -1]))

    module = TextLSTM()
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    with torch.no_grad():
        module.embedding.weight.copy_(t(table))
        module.lstm.weight_ih_l0.copy_(t(kernel.T))
        module.lstm.weight_hh_l0.copy_(t(recurrent.T))
        module.lstm.bias_ih_l0.copy_(t(bias))
        module.lstm.bias_hh_l0.zero_()
        module.dense.weight.copy_(t(dense_kernel.T))
        module.dense.bias.copy_(t(dense_bias))
    return module.eval()


def make_input(batch: int, rng: Any) -> Any:
    """Token ids in [0, VOCABULARY), int32 (what the ONNX export takes)."""
    import numpy as np

    return rng.integers(0, VOCABULARY, size=(batch, LENGTH), dtype=np.int32)


def case() -> Case:
    return Case(name="text lstm", layerc_model=from_keras_model(build_keras),
                build_keras=build_keras, make_input=make_input, build_torch=build_torch,
                batches=(1, 64))
