"""CUDA lowering of the normalization layers against the reference
interpreter: BatchNormalization's scale-and-shift kernel over a
channels-first axis, a middle axis and the last, with a fused activation and
with softmax (the row kernel after it); folded into a convolution by the
default pipeline, run unfolded under plan-memory alone; Rescaling and
Normalization (the same kernel); layer, RMS, unit and group normalization
(the moments kernel)."""

import numpy as np
import pytest

from layerc.layers import (Activation, BatchNormalization, Conv2D, GroupNormalization, Input,
                           LayerNormalization, Normalization, RMSNormalization, Rescaling,
                           UnitNormalization)
from layerc.models import Sequential


def _statistics(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            ws = layer.get_weights()
            layer.set_weights([rng.uniform(0.25, 4.0, w.shape) if i == len(ws) - 1 else
                               rng.uniform(-2.0, 2.0, w.shape) for i, w in enumerate(ws)])
    return model


@pytest.mark.parametrize("axis,activation", [(1, "tanh"), (2, "relu"), (-1, "softmax")])
def test_batch_normalization(like_reference, axis, activation):
    model = Sequential([Input((3, 4, 5)), BatchNormalization(axis=axis, scale=axis != 2),
                        Activation(activation)])
    like_reference(_statistics(model))


def test_batch_normalization_after_a_convolution(like_reference):
    model = Sequential([Input((2, 6, 6)), Conv2D(3, 3, data_format="channels_first"),
                        BatchNormalization(axis=1, center=False)])
    like_reference(_statistics(model, 1))


@pytest.mark.parametrize("scale,offset", [(1 / 255, 0.0), ([0.5, -1.0, 2.0], [0.1, 0.2, 0.3])])
def test_rescaling(like_reference, scale, offset):
    like_reference(Sequential([Input((4, 3)), Rescaling(scale, offset)]))


@pytest.mark.parametrize("layer", [
    lambda: LayerNormalization(beta_initializer="random_uniform"),
    lambda: LayerNormalization(axis=[1, 2], rms_scaling=True),
    lambda: UnitNormalization(axis=1),
    lambda: RMSNormalization(axis=[1, 2]),
    lambda: GroupNormalization(groups=2, gamma_initializer="random_uniform"),
    lambda: GroupNormalization(groups=3, axis=1),
    lambda: Normalization(mean=[1.0, -1.0, 0.5, 2.0], variance=[0.5, 2.0, 1.0, 4.0],
                          invert=True)])
def test_moments_and_normalization(like_reference, layer):
    like_reference(Sequential([Input((3, 4)), layer()]))
