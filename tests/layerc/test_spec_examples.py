"""The document's examples (spec/README.md) for the core layers, as written."""

import numpy as np

import layerc
from layerc.layers import Dense, Reshape
from layerc.testing import assert_compiles_like_reference


def test_example_1_sequential_dense():
    model = layerc.Sequential()
    model.add(Dense(32, input_shape=(16,)))
    model.add(Dense(32))
    assert model.output_shape == (None, 32)
    assert model.predict(np.ones((3, 16), np.float32)).shape == (3, 32)
    assert_compiles_like_reference(model)


def test_example_3_reshape():
    model = layerc.Sequential()
    model.add(Reshape((3, 4), input_shape=(12,)))
    assert model.output_shape == (None, 3, 4)
    model.add(Reshape((6, 2)))
    assert model.output_shape == (None, 6, 2)
    model.add(Reshape((-1, 2, 2)))
    assert model.output_shape == (None, 3, 2, 2)
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    np.testing.assert_array_equal(model.predict(x), x.reshape(2, 3, 2, 2))


def test_get_config_from_config_example():
    """from_config rebuilds a layer whose config equals the original's, every
    option included (a non-default value of each, so a dropped one shows)."""
    layer = Dense(32, activation="relu", use_bias=False, kernel_initializer="he_normal",
                  name="example_dense")
    config = layer.get_config()
    reconstructed = Dense.from_config(config)
    assert reconstructed.get_config() == config
    assert config["name"] == "example_dense" and config["activation"] == "relu"
    assert config["use_bias"] is False
    assert reconstructed is not layer and reconstructed.units == 32


def test_example_2_keras1_convolution2d_channels_first():
    from layerc.layers import Convolution2D, Flatten
    layerc.config.set_image_data_format("channels_first")
    try:
        model = layerc.Sequential()
        model.add(Convolution2D(64, 3, 3, border_mode="same", input_shape=(3, 32, 32)))
        assert model.output_shape == (None, 64, 32, 32)
        model.add(Flatten())
        assert model.output_shape == (None, 65536)
    finally:
        layerc.config.set_image_data_format("channels_last")
    x = np.random.default_rng(0).random((2, 3, 32, 32), dtype=np.float32)
    assert_compiles_like_reference(model, inputs=x)


def test_example_4_locally_connected_shapes_and_parameters():
    from layerc.layers import LocallyConnected2D
    model = layerc.Sequential()
    model.add(LocallyConnected2D(64, (3, 3), input_shape=(32, 32, 3)))
    assert model.output_shape == (None, 30, 30, 64)
    assert model.count_params() == (30 * 30) * (3 * 3 * 3 * 64) + (30 * 30) * 64
    model.add(LocallyConnected2D(32, (3, 3)))
    assert model.output_shape == (None, 28, 28, 32)
    assert_compiles_like_reference(model, atol=1e-4)
