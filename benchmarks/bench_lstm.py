"""The LSTM classifier case: examples/lstm_classifier.py's model on int32 token
ids of length 32, zero-padded at the front (as its sample_inputs gives them):
Embedding(2000, 32, mask_zero=True) -> LSTM(64) -> Dense(1, sigmoid).

Every peer gets the same int32 array. The Keras model's Input is dtype="int32"
and its Embedding has mask_zero=True, so its LSTM skips the padding as layerc's
does; its ONNX export (masked LSTM included) takes tensor(int32) and agrees with
layerc like every other peer, checked on each run.

No torch peer: nn.LSTM has no masks. pack_padded_sequence wants post-padded
sequences (pre-padded ones would need reversing or re-padding per batch, which
is not what a PyTorch user would time against a masked Keras LSTM), and running
nn.LSTM over the padding gives different outputs. So torch is left out here."""

from __future__ import annotations

from typing import Any

from bench_mlp import _load_example
from common import Case


def _example() -> Any:
    return _load_example("lstm_classifier")


def build_keras() -> Any:
    import keras

    ex = _example()
    return keras.Sequential([
        keras.Input((ex.LENGTH,), dtype="int32"),
        keras.layers.Embedding(ex.VOCABULARY, 32, mask_zero=True),
        keras.layers.LSTM(64),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="lstm_classifier")


def make_input(batch: int, rng: Any) -> Any:
    """Token ids in [1, VOCABULARY) of random lengths 1..LENGTH, zero-padded at
    the front (like the example's sample_inputs), int32."""
    import numpy as np

    ex = _example()
    tokens = rng.integers(1, ex.VOCABULARY, size=(batch, ex.LENGTH), dtype=np.int32)
    for row, length in zip(tokens, rng.integers(1, ex.LENGTH + 1, size=batch)):
        row[: ex.LENGTH - length] = 0
    return tokens


TORCH_NOTE = ("lstm classifier: torch eager left out: nn.LSTM has no masks and "
              "pack_padded_sequence takes post-padded sequences, these are pre-padded")


def case() -> Case:
    model = _example().build_model()
    return Case(name="lstm classifier", layerc_model=model, build_keras=build_keras,
                make_input=make_input, build_torch=None, batches=(1, 64), notes=(TORCH_NOTE,))
