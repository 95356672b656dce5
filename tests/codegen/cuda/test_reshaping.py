"""CUDA lowering of the reshaping layers against the reference interpreter:
RepeatVector, the strided copy (Permute, ZeroPadding, Cropping, nearest
UpSampling, a merge's broadcast) and the bilinear resize."""

import pytest

import layerc

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


@pytest.mark.parametrize("interpolation, aspect, data_format", [
    ("nearest", "", "channels_last"), ("bilinear", "crop", "channels_first"),
    ("bicubic", "pad", "channels_last")])
def test_resizing(like_reference, interpolation, aspect, data_format):
    """The image_resize kernel: taps x taps weighted pixels, the fill value
    past a pad, both data formats."""
    shape = (5, 3, 2) if data_format == "channels_last" else (2, 5, 3)
    model = Sequential([Input(shape), layerc.layers.Resizing(
        4, 6, interpolation=interpolation, crop_to_aspect_ratio=aspect == "crop",
        pad_to_aspect_ratio=aspect == "pad", fill_value=0.5, data_format=data_format)])
    like_reference(model)


def test_center_crop_crops_or_resizes(like_reference):
    x = Input((5, 4, 2))
    model = Model(x, [layerc.layers.CenterCrop(3, 2)(x), layerc.layers.CenterCrop(6, 3)(x)])
    like_reference(model)
