"""The layer object API of the spec: weights, config, nodes, names, counts."""

import re

import numpy as np
import pytest

import layerc
from layerc import ConfigError, LayerNodeError, ShapeError
from layerc.layers import (LAYERS, Activation, Add, Average, Concatenate, Dense, Dropout,
                           Flatten, Maximum, Minimum, Multiply, Reshape, Subtract)
from layerc.layers.base import to_snake_case


def built_dense(units=3, in_dim=4, **kw):
    layer = Dense(units, **kw)
    layer(layerc.Input((in_dim,)))
    return layer


def test_weights_have_keras_layout_and_round_trip():
    layer = built_dense(3, 4)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 3) and bias.shape == (3,)
    new = [np.full((4, 3), 2.0), np.arange(3.0)]
    layer.set_weights(new)
    got = layer.get_weights()
    np.testing.assert_array_equal(got[0], new[0])
    assert got[0].dtype == np.float32


def test_wrong_set_weights_names_layer_and_shapes_and_changes_nothing():
    layer = built_dense(3, 4, name="dense_w")
    before = layer.get_weights()
    with pytest.raises(ShapeError) as info:
        layer.set_weights([np.zeros((4, 3)), np.zeros((4,))])
    message = str(info.value)
    assert "dense_w (Dense)" in message and "[(4, 3), (3,)]" in message and "(4,)" in message
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ShapeError, match="expected 2 array"):
        layer.set_weights([np.zeros((4, 3))])
    with pytest.raises(ValueError):  # also a builtin ValueError
        layer.set_weights([])


def test_model_set_weights_is_atomic():
    model = layerc.Sequential([Dense(3, input_shape=(4,)), Dense(2)])
    before = model.get_weights()
    bad = [w.copy() + 1 for w in before]
    bad[-1] = np.zeros(5)
    with pytest.raises(ShapeError):
        model.set_weights(bad)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    model.set_weights([w + 1 for w in before])
    np.testing.assert_array_equal(model.get_weights()[0], before[0] + 1)


def test_set_weights_changes_predictions_of_a_compiled_model():
    model = layerc.Sequential([Dense(2, input_shape=(3,), use_bias=False)])
    x = np.ones((1, 3), np.float32)
    first = model.predict(x)
    model.layers[0].set_weights([np.ones((3, 2))])
    np.testing.assert_allclose(model.predict(x), [[3.0, 3.0]])
    assert not np.allclose(first, [[3.0, 3.0]])


CONFIG_CASES = [
    lambda: Dense(5, activation="tanh", use_bias=False, kernel_initializer="orthogonal"),
    lambda: Activation("softplus"),
    lambda: Dropout(0.3, noise_shape=(None, 1), seed=7),
    lambda: Flatten(data_format="channels_first"),
    lambda: Reshape((-1, 2)),
    lambda: Add(), lambda: Subtract(), lambda: Multiply(), lambda: Average(),
    lambda: Maximum(), lambda: Minimum(), lambda: Concatenate(axis=1),
]


@pytest.mark.parametrize("make", CONFIG_CASES)
def test_every_layer_config_round_trips(make):
    layer = make()
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    assert layerc.layers.deserialize(layerc.layers.serialize(layer)).get_config() == config
    assert type(layer).__name__ in LAYERS


def test_sequential_config_round_trip_keeps_shapes_and_numbers():
    model = layerc.Sequential([Dense(4, input_shape=(3,), activation="relu"), Dropout(0.5),
                               Dense(2)], name="seq")
    again = layerc.Sequential.from_config(model.get_config())
    assert again.output_shape == (None, 2)
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    again.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_functional_config_round_trip_with_shared_layer_and_two_outputs():
    a = layerc.Input((4,), name="a")
    b = layerc.Input((4,), name="b")
    shared = Dense(3, name="shared")
    y = Concatenate(name="cat")([shared(a), shared(b)])
    model = layerc.Model([a, b], [y, shared.get_output_at(0)], name="func")
    again = layerc.Model.from_config(model.get_config())
    assert again.output_shape == [(None, 6), (None, 3)]
    again.set_weights(model.get_weights())
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 4)).astype(np.float32) for _ in range(2)]
    for got, want in zip(again.predict(xs), model.predict(xs)):
        np.testing.assert_array_equal(got, want)


def test_shared_layer_nodes():
    shared = Dense(3, name="sh")
    a, b = layerc.Input((4,)), layerc.Input((4,))
    ya, yb = shared(a), shared(b)
    assert shared.get_input_at(0) is a and shared.get_input_at(1) is b
    assert shared.get_output_at(1) is yb
    assert shared.get_input_shape_at(1) == (None, 4)
    assert shared.get_output_shape_at(0) == (None, 3)
    for prop in ("input", "output", "input_shape", "output_shape"):
        with pytest.raises(LayerNodeError, match=r"sh \(Dense\).*shared \(2 calls\).*_at"):
            getattr(shared, prop)
    with pytest.raises(AttributeError):  # LayerNodeError is an AttributeError too
        _ = shared.output
    with pytest.raises(LayerNodeError, match="no node 2"):
        shared.get_output_at(2)
    assert ya.shape == (None, 3)


def test_single_node_properties():
    x = layerc.Input((4,))
    layer = Dense(3)
    with pytest.raises(LayerNodeError, match="never been called"):
        _ = layer.output
    y = layer(x)
    assert layer.input is x and layer.output is y
    assert layer.input_shape == (None, 4) and layer.output_shape == (None, 3)


def test_shared_layer_called_on_a_wrong_shape():
    shared = Dense(3, name="sh2")
    shared(layerc.Input((4,)))
    with pytest.raises(ShapeError, match=r"sh2 \(Dense\) at .*weight 'kernel' has shape"):
        shared(layerc.Input((5,)))


def test_count_params_and_unbuilt_errors():
    assert built_dense(3, 4).count_params() == 15
    with pytest.raises(ConfigError, match="count_params"):
        Dense(2).count_params()
    model = layerc.Sequential([Dense(8, input_shape=(16,)), Dense(2)])
    assert model.count_params() == 16 * 8 + 8 + 8 * 2 + 2


def test_automatic_names_are_unique():
    names = [Dense(1).name for _ in range(3)] + [Concatenate().name, Concatenate().name]
    assert len(set(names)) == 5
    assert all(n.startswith("dense") for n in names[:3])
    assert names[3].startswith("concatenate")


def test_duplicate_names_in_a_model_are_refused():
    x = layerc.Input((2,))
    y = Dense(2, name="same")(Dense(2, name="same")(x))
    with pytest.raises(ConfigError, match="two layers are named 'same'"):
        layerc.Model(x, y)


@pytest.mark.parametrize("make, kind, match", [
    (lambda: Dense(0), "Dense", "units must be a positive int"),
    (lambda: Dense(-3), "Dense", "units must be a positive int"),
    (lambda: Dense(2.5), "Dense", "units must be a positive int"),
    (lambda: Dense(3, activation="nope"), "Dense", "unknown activation 'nope'"),
    (lambda: Dense(3, activation=lambda x: x), "Dense", "cannot be compiled"),
    (lambda: Dense(3, kernel_initializer="nope"), "Dense", "unknown initializer"),
    (lambda: Dense(3, lora_rank=4), "Dense", "lora_rank"),
    (lambda: Dense(3, frobnicate=1), "Dense", "unknown option"),
    (lambda: Dense(3, dtype="float16"), "Dense", "float32"),
    (lambda: Reshape((-1, -1)), "Reshape", "more than one -1"),
    (lambda: Reshape((0, 2)), "Reshape", "positive"),
    (lambda: Dropout(1.5), "Dropout", "rate"),
    (lambda: Flatten(data_format="nchw"), "Flatten", "data_format"),
    (lambda: Activation("nope"), "Activation", "unknown activation"),
])
def test_invalid_configs_name_the_layer(make, kind, match):
    """The error names the layer (its automatic name and class) and the line
    of this file that made it."""
    with pytest.raises(ConfigError, match=match) as info:
        make()
    name = re.escape(to_snake_case(kind))
    assert re.search(rf"\b{name}(_\d+)? \({kind}\) at test_layer_api\.py:\d+", str(info.value)), \
        str(info.value)


def test_reshape_of_the_wrong_size_names_the_layer_and_line():
    with pytest.raises(ShapeError, match=r"bad_reshape \(Reshape\) at test_layer_api.py:\d+: "
                                         r"cannot reshape 12 values per sample to \(5, 2\)"):
        Reshape((5, 2), name="bad_reshape")(layerc.Input((12,)))


def test_dense_needs_rank_2():
    x = layerc.Input((4,))
    flat = Dense(2)(x)
    assert flat.shape == (None, 2)
    assert Dense(5)(layerc.Input((2, 3, 4))).shape == (None, 2, 3, 5)


def test_merge_layer_errors():
    a, b = layerc.Input((3,)), layerc.Input((4,))
    with pytest.raises(ShapeError, match=r"add_bad \(Add\).*axis 1 .*does not broadcast"):
        Add(name="add_bad")([a, b])
    with pytest.raises(ShapeError, match="at least 2 inputs"):
        Add()(a)
    with pytest.raises(ShapeError, match="exactly 2"):
        Subtract()([a, a, a])
    with pytest.raises(ShapeError, match="batch axis"):
        Concatenate(axis=0)([a, b])


def test_summary_lists_layers_shapes_and_params(capsys):
    model = layerc.Sequential([Dense(8, input_shape=(16,), name="first"), Dense(2, name="second")],
                              name="summ")
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "summ"' in text
    assert "first (Dense)" in text and "(None, 8)" in text and "136" in text
    assert "Total params: 154" in text
    lines = []
    x = layerc.Input((4,), name="in_a")
    layerc.Model(x, Dense(2, name="d_s")(x), name="fn").summary(print_fn=lines.append)
    assert "Connected to" in lines[0] and "in_a[0][0]" in lines[0]


def test_model_layers_inputs_outputs_and_get_layer():
    x = layerc.Input((4,), name="inp")
    d = Dense(2, name="dd")
    model = layerc.Model(x, d(x))
    assert [layer.name for layer in model.layers] == ["inp", "dd"]
    assert model.get_layer("dd") is d and model.get_layer(index=1) is d
    assert model.input is x and model.output_shape == (None, 2)
    with pytest.raises(ConfigError, match="no layer named 'zz'"):
        model.get_layer("zz")


def test_graph_disconnected_is_refused():
    a, b = layerc.Input((2,), name="a_in"), layerc.Input((2,), name="b_in")
    y = Add()([a, b])
    with pytest.raises(ConfigError, match="b_in.*not among the model's inputs"):
        layerc.Model(a, y)


def test_sequential_builds_on_first_predict_and_compile_is_accepted():
    model = layerc.Sequential([Dense(3), Dense(1)])
    assert not model.built
    model.compile(optimizer="rmsprop", loss="mse")
    y = model.predict(np.ones((2, 5), np.float32))
    assert y.shape == (2, 1) and model.input_shape == (None, 5)


def test_seeded_models_have_equal_weights():
    def build(seed):
        layerc.utils.set_random_seed(seed)
        return layerc.Sequential([Dense(4, input_shape=(3,)), Dense(2)])
    for a, b in zip(build(42).get_weights(), build(42).get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(build(42).get_weights()[0], build(43).get_weights()[0])


def test_seeded_initializer_is_repeatable():
    init = layerc.initializers.GlorotUniform(seed=3)
    np.testing.assert_array_equal(init((4, 5)), init((4, 5)))
    limit = np.sqrt(6 / 9)
    assert np.abs(init((4, 5))).max() <= limit
