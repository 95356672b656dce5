"""CUDA lowerings of the 3-D spatial family against the reference
interpreter, under the simulator (tiny volumes: a simulated thread costs
~70 us): Conv3D (the conv kernel's depth loop), Conv3DTranspose (the
conv_transpose kernel's), 3-D pooling (two launches of the 2-D pool kernel),
global pooling, and the moves of ZeroPadding3D, Cropping3D and UpSampling3D."""

import pytest

from layerc.layers import (AveragePooling3D, Conv3D, Conv3DTranspose, Cropping3D,
                           GlobalAveragePooling3D, GlobalMaxPooling3D, Input, MaxPooling3D,
                           UpSampling3D, ZeroPadding3D)
from layerc.models import Sequential

FORMATS = ("channels_last", "channels_first")


def volume(sizes, channels, data_format):
    return Input((*sizes, channels) if data_format == "channels_last" else (channels, *sizes))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kernel,strides,dilation,padding,groups", [
    ((2, 2, 1), (1, 1, 1), (1, 1, 1), "valid", 1),
    ((3, 2, 2), (2, 1, 2), (1, 1, 1), "same", 2),
    ((2, 1, 2), (1, 1, 1), (2, 1, 1), "same", 1)])
def test_conv3d(like_reference, data_format, kernel, strides, dilation, padding, groups):
    model = Sequential([volume((3, 3, 4), 2, data_format),
                        Conv3D(2, kernel, strides=strides, padding=padding,
                               dilation_rate=dilation, groups=groups, data_format=data_format,
                               activation="tanh")])
    like_reference(model, both=False)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("kernel,strides,dilation,padding,output_padding,activation", [
    ((2, 2, 1), (2, 1, 2), (1, 1, 1), "valid", None, "tanh"),
    ((2, 1, 3), (2, 1, 2), (1, 1, 1), "same", (1, 0, 1), "relu"),
    ((2, 2, 1), (1, 1, 1), (2, 1, 1), "same", None, "softmax")])
def test_conv3d_transpose(like_reference, data_format, kernel, strides, dilation, padding,
                          output_padding, activation):
    model = Sequential([volume((2, 2, 3), 2, data_format),
                        Conv3DTranspose(2, kernel, strides=strides, padding=padding,
                                        output_padding=output_padding, dilation_rate=dilation,
                                        data_format=data_format, activation=activation)])
    like_reference(model, both=False)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("layer,pool,strides,padding", [
    (MaxPooling3D, (2, 2, 2), None, "valid"), (AveragePooling3D, (2, 3, 2), (1, 2, 1), "same")])
def test_pooling_3d(like_reference, data_format, layer, pool, strides, padding):
    model = Sequential([volume((3, 4, 3), 2, data_format),
                        layer(pool, strides=strides, padding=padding, data_format=data_format)])
    like_reference(model, both=False)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("layer", [GlobalMaxPooling3D, GlobalAveragePooling3D])
def test_global_pooling_3d(like_reference, data_format, layer):
    model = Sequential([volume((2, 3, 2), 3, data_format),
                        layer(data_format=data_format, keepdims=True)])
    like_reference(model, both=False)


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("layer", [
    lambda f: ZeroPadding3D(((1, 0), (0, 1), (1, 1)), data_format=f),
    lambda f: Cropping3D(((1, 0), (0, 1), (1, 0)), data_format=f),
    lambda f: UpSampling3D((2, 1, 2), data_format=f)], ids=["pad", "crop", "upsample"])
def test_3d_moves(like_reference, data_format, layer):
    model = Sequential([volume((2, 2, 3), 2, data_format), layer(data_format)])
    like_reference(model, both=False)
