"""CUDA lowering of the reshaping layers against the reference interpreter:
RepeatVector, the strided copy (Permute, ZeroPadding, Cropping, nearest
UpSampling, a merge's broadcast) and the bilinear resize."""

import pytest

from layerc.layers import (Add, Cropping2D, Input, Permute, RepeatVector, UpSampling1D,
                           UpSampling2D, ZeroPadding1D, ZeroPadding2D)
from layerc.models import Model, Sequential


def test_repeat_vector(like_reference):
    like_reference(Sequential([Input((5,)), RepeatVector(3)]))


@pytest.mark.parametrize("layer", [
    lambda: Permute((3, 1, 2)), lambda: ZeroPadding2D(((1, 0), (2, 1))),
    lambda: ZeroPadding2D(1, data_format="channels_first"), lambda: Cropping2D(((1, 0), (0, 1))),
    lambda: UpSampling2D((2, 1)), lambda: UpSampling2D((2, 3), interpolation="bilinear"),
    lambda: UpSampling2D(2, data_format="channels_first", interpolation="bilinear")])
def test_spatial_moves(like_reference, layer):
    like_reference(Sequential([Input((2, 3, 2)), layer()]))


def test_1d_moves_and_a_broadcast(like_reference):
    like_reference(Sequential([Input((3, 2)), ZeroPadding1D((2, 1)), UpSampling1D(2)]))
    a, b = Input((3, 1, 2)), Input((1, 4, 2))
    like_reference(Model([a, b], Add()([a, b])))


def test_bidirectional_reverses_time(like_reference):
    from layerc.layers import GRU, Bidirectional

    x = Input((4, 2))
    like_reference(Model(x, Bidirectional(GRU(2, return_sequences=True))(x)), both=False)
