"""The CIFAR convnet case: the Keras CIFAR-10 example's network on 32x32x3
channels_last images: Conv2D(32, 3, same, relu) -> Conv2D(32, 3, relu) ->
MaxPooling2D(2) -> Conv2D(64, 3, same, relu) -> Conv2D(64, 3, relu) ->
MaxPooling2D(2) -> Flatten -> Dense(512, relu) -> Dense(10, softmax).

Built in Keras (random weights, seeded) and converted with layerc.from_keras;
every peer holds those weights. The torch module is bench_convnet's NCHW twin
(Conv2d with padding="same" for the "same" layers, Dense rows reordered for
torch's (C, H, W) flatten order)."""

from __future__ import annotations

from typing import Any

from bench_convnet import build_torch
from common import Case, from_keras_model


def build_keras() -> Any:
    import keras

    return keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="cifar_convnet")


def make_input(batch: int, rng: Any) -> Any:
    import numpy as np

    return rng.random((batch, 32, 32, 3), dtype=np.float32)


def case() -> Case:
    return Case(name="cifar convnet", layerc_model=from_keras_model(build_keras),
                build_keras=build_keras, make_input=make_input, build_torch=build_torch,
                batches=(1, 64))
