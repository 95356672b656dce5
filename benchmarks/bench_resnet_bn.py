"""A small ResNet with BatchNormalization on 32x32x3 images, compiled with
the default pipeline (fold-batchnorm folds every BatchNormalization into the
convolution before it) and without fold-batchnorm (each runs as a per-channel
scale-and-shift step): the cost of an unfolded BatchNormalization, against
ONNX Runtime (whose exporter folds them too).

Stem Conv2D(16, 3, same, no bias) -> BN -> ReLU; two identity blocks
[Conv(16) -> BN -> ReLU -> Conv(16) -> BN, + input, ReLU]; a downsampling
block [Conv(32, 3, strides 2) -> BN -> ReLU -> Conv(32) -> BN, + Conv(32, 1,
strides 2) -> BN, ReLU]; GlobalAveragePooling2D -> Dense(10, softmax).
Built in Keras (random weights and moving statistics, seeded) and converted
with layerc.from_keras. No PyTorch twin (the Keras and ONNX Runtime peers
hold the same weights)."""

from __future__ import annotations

from typing import Any

from common import Case, from_keras_model


def build_keras() -> Any:
    import keras
    import numpy as np

    L = keras.layers
    count = iter(range(100))

    def conv_bn(x: Any, filters: int, kernel: int = 3, strides: int = 1,
                relu: bool = True) -> Any:
        i = next(count)
        x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                     name=f"conv{i}")(x)
        x = L.BatchNormalization(name=f"bn{i}")(x)
        return L.ReLU(name=f"relu{i}")(x) if relu else x

    inputs = keras.Input((32, 32, 3))
    x = conv_bn(inputs, 16)
    for block in range(2):
        y = conv_bn(conv_bn(x, 16), 16, relu=False)
        x = L.ReLU(name=f"out{block}")(L.Add(name=f"add{block}")([x, y]))
    y = conv_bn(conv_bn(x, 32, strides=2), 32, relu=False)
    skip = conv_bn(x, 32, kernel=1, strides=2, relu=False)
    x = L.ReLU(name="out2")(L.Add(name="add2")([skip, y]))
    x = L.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, L.Dense(10, activation="softmax", name="head")(x),
                        name="resnet_bn")
    rng = np.random.default_rng(0)
    for layer in model.layers:  # moving statistics far from the identity
        if isinstance(layer, L.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape),
                               rng.uniform(-0.2, 0.2, beta.shape),
                               rng.uniform(-0.2, 0.2, mean.shape),
                               rng.uniform(0.5, 2.0, var.shape)])
    return model


def make_input(batch: int, rng: Any) -> Any:
    import numpy as np

    return rng.random((batch, 32, 32, 3), dtype=np.float32)


def case() -> Case:
    return Case(name="resnet bn", layerc_model=from_keras_model(build_keras),
                build_keras=build_keras, make_input=make_input, batches=(1, 64),
                notes=("resnet bn: no PyTorch twin; the Keras and ONNX Runtime peers hold the "
                       "same weights",))


def case_unfolded() -> Case:
    from layerc.passes.pipeline import default_pipeline

    passes = tuple(p for p in default_pipeline() if p.name != "fold-batchnorm")
    return Case(name="resnet bn, fold-batchnorm off", layerc_model=from_keras_model(build_keras),
                build_keras=build_keras, make_input=make_input, batches=(1, 64), passes=passes,
                notes=("resnet bn, fold-batchnorm off: layerc compiled with the default "
                       "pipeline without fold-batchnorm",))
