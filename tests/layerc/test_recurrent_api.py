"""The recurrent layers' API: the abstract base, weight layouts, config round
trips, refused options, initial_state checks, input checks, and the
document's example 6 (Embedding)."""

from __future__ import annotations

import numpy as np
import pytest

import layerc
from layerc import ConfigError, LayercError, ShapeError
from layerc.layers import GRU, LSTM, Embedding, SimpleRNN
from layerc.layers import recurrent as recurrent_module
from layerc.layers.recurrent import Recurrent

CELLS = {"simple_rnn": SimpleRNN, "gru": GRU, "lstm": LSTM}


def built(layer, steps=5, features=3):
    layer(layerc.Input((steps, features)))
    return layer


# ----- the abstract base -----
def test_recurrent_cannot_be_instantiated():
    assert recurrent_module.Recurrent is Recurrent
    with pytest.raises(ConfigError, match="abstract"):
        Recurrent(4)
    with pytest.raises(LayercError):
        Recurrent(units=4, return_sequences=True)
    for cls in CELLS.values():
        assert issubclass(cls, Recurrent)
        assert isinstance(cls(2), Recurrent)


def test_document_module_paths():
    from layerc.layers import embeddings

    assert embeddings.Embedding is Embedding
    assert (recurrent_module.GRU, recurrent_module.LSTM, recurrent_module.SimpleRNN) == \
        (GRU, LSTM, SimpleRNN)


# ----- weights -----
@pytest.mark.parametrize("cell,options,shapes", [
    ("simple_rnn", {}, [(3, 7), (7, 7), (7,)]),
    ("gru", {}, [(3, 21), (7, 21), (2, 21)]),
    ("gru", {"reset_after": False}, [(3, 21), (7, 21), (21,)]),
    ("lstm", {}, [(3, 28), (7, 28), (28,)]),
    ("lstm", {"use_bias": False}, [(3, 28), (7, 28)]),
    ("gru", {"use_bias": False, "reset_after": False}, [(3, 21), (7, 21)]),
], ids=["simple_rnn", "gru", "gru-reset_before", "lstm", "lstm-no_bias", "gru-no_bias"])
def test_weight_shapes_follow_keras(cell, options, shapes):
    layer = built(CELLS[cell](7, **options))
    assert [w.shape for w in layer.get_weights()] == shapes
    assert layer.count_params() == sum(int(np.prod(s)) for s in shapes)
    assert all(w.dtype == np.float32 for w in layer.get_weights())


def test_lstm_forget_gate_bias_starts_at_one():
    bias = built(LSTM(4))
    b = bias.get_weights()[2]
    np.testing.assert_array_equal(b[4:8], 1.0)
    np.testing.assert_array_equal(np.delete(b, np.s_[4:8]), 0.0)
    no_forget = built(LSTM(4, unit_forget_bias=False)).get_weights()[2]
    np.testing.assert_array_equal(no_forget, 0.0)


def test_wrong_set_weights_names_the_layer_and_changes_nothing():
    layer = built(GRU(4, name="my_gru"))
    before = layer.get_weights()
    with pytest.raises(ShapeError, match="my_gru"):
        layer.set_weights([before[0], before[1], np.zeros((12,), np.float32)])
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)


# ----- config -----
CONFIG_CASES = [
    ("simple_rnn", {"activation": "relu", "use_bias": False, "return_sequences": True,
                    "go_backwards": True}),
    ("gru", {"activation": "softsign", "recurrent_activation": "hard_sigmoid",
             "reset_after": False, "return_state": True, "unroll": True, "dropout": 0.25}),
    ("lstm", {"activation": "relu", "recurrent_activation": "hard_sigmoid",
              "return_sequences": True, "go_backwards": True, "unit_forget_bias": False,
              "recurrent_dropout": 0.5}),
    ("lstm", {"stateful": True, "batch_input_shape": (2, 5, 3)}),
]


@pytest.mark.parametrize("cell,options", CONFIG_CASES,
                         ids=["simple_rnn", "gru", "lstm", "lstm-stateful"])
def test_config_round_trip(cell, options):
    cls = CELLS[cell]
    layer = cls(6, name="rnn_cfg", **options)
    config = layer.get_config()
    assert config["units"] == 6 and config["name"] == "rnn_cfg"
    for key, value in options.items():
        if key != "batch_input_shape":
            assert config[key] == value, key
    if cell == "simple_rnn":
        assert "recurrent_activation" not in config
    clone = cls.from_config(config)
    assert type(clone) is cls
    assert clone.get_config() == config
    # the clone computes the same function once given the same weights
    x = np.random.default_rng(0).uniform(-1, 1, (2, 5, 3)).astype(np.float32)
    models = []
    for item in (layer, clone):
        if item.stateful:
            model = layerc.Sequential([item])
        else:
            inp = layerc.Input((5, 3))
            model = layerc.Model(inp, item(inp))
        models.append(model)
    clone.set_weights(layer.get_weights())
    first, second = (m.predict(x) for m in models)
    for a, b in zip(first if isinstance(first, list) else [first],
                    second if isinstance(second, list) else [second]):
        np.testing.assert_array_equal(a, b)


def test_defaults_follow_keras_3():
    lstm, gru, rnn = LSTM(2).get_config(), GRU(2).get_config(), SimpleRNN(2).get_config()
    assert lstm["recurrent_activation"] == gru["recurrent_activation"] == "sigmoid"
    assert lstm["activation"] == gru["activation"] == rnn["activation"] == "tanh"
    assert gru["reset_after"] is True and lstm["unit_forget_bias"] is True
    for config in (lstm, gru, rnn):
        assert config["use_bias"] is True
        assert not (config["return_sequences"] or config["return_state"]
                    or config["go_backwards"] or config["stateful"] or config["unroll"])


# ----- refused options -----
@pytest.mark.parametrize("cls", [SimpleRNN, GRU, LSTM], ids=lambda c: c.__name__)
@pytest.mark.parametrize("options,what", [
    ({"units": 0}, "units"), ({"units": -3}, "units"), ({"units": 2.5}, "units"),
    ({"units": 2, "activation": "nope"}, "nope"),
    ({"units": 2, "dropout": 1.5}, "dropout"),
    ({"units": 2, "recurrent_dropout": -0.1}, "recurrent_dropout"),
    ({"units": 2, "no_such_option": 1}, "no_such_option"),
], ids=["units0", "units-3", "units2.5", "activation", "dropout", "recurrent_dropout",
        "unknown"])
def test_bad_options_are_config_errors_naming_the_layer(cls, options, what):
    with pytest.raises(ConfigError, match=rf"bad_rnn \({cls.__name__}\).*{what}"):
        cls(name="bad_rnn", **options)


@pytest.mark.parametrize("cls", [GRU, LSTM], ids=lambda c: c.__name__)
def test_bad_recurrent_activation_names_the_layer(cls):
    with pytest.raises(ConfigError, match=r"bad_rnn \(.*nope"):
        cls(2, recurrent_activation="nope", name="bad_rnn")


def test_simple_rnn_refuses_recurrent_activation_naming_the_layer():
    with pytest.raises(ConfigError, match=r"my_simple.*recurrent_activation"):
        SimpleRNN(3, recurrent_activation="sigmoid", name="my_simple")


# ----- initial_state -----
@pytest.mark.parametrize("cell,count", [("lstm", 1), ("lstm", 3), ("gru", 2),
                                        ("simple_rnn", 2)])
def test_initial_state_with_the_wrong_count_is_an_error(cell, count):
    x = layerc.Input((5, 3))
    states = [layerc.Input((4,)) for _ in range(count)]
    with pytest.raises(ShapeError, match=r"init_rnn .*initial_state"):
        CELLS[cell](4, name="init_rnn")(x, initial_state=states)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_initial_state_with_the_wrong_units_is_a_shape_error(cell):
    x = layerc.Input((5, 3))
    count = 2 if cell == "lstm" else 1
    with pytest.raises(ShapeError, match=r"init_rnn.*\(batch, 4\)"):
        CELLS[cell](4, name="init_rnn")(x, initial_state=[layerc.Input((5,))] * count)


def test_initial_state_on_a_stateful_layer_is_refused():
    x = layerc.Input((5, 3), batch_size=2)
    with pytest.raises(ConfigError, match="stateful_gru.*initial_state"):
        GRU(4, stateful=True, name="stateful_gru")(x, initial_state=[layerc.Input((4,))])


def test_a_single_state_tensor_is_accepted_for_gru():
    x, h = layerc.Input((5, 3)), layerc.Input((4,))
    layer = GRU(4)
    a = layerc.Model([x, h], layer(x, initial_state=h))
    b = layerc.Model([x, h], layer(x, initial_state=[h]))
    xs = [np.ones((2, 5, 3), np.float32), np.full((2, 4), 0.5, np.float32)]
    np.testing.assert_array_equal(a.predict(xs), b.predict(xs))


# ----- shapes and input checks -----
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_output_shapes(cell):
    x = layerc.Input((7, 3))
    cls = CELLS[cell]
    assert cls(5)(x).shape == (None, 5)
    assert cls(5, return_sequences=True)(x).shape == (None, 7, 5)
    outs = cls(5, return_state=True, return_sequences=True)(x)
    assert [o.shape for o in outs] == [(None, 7, 5)] + [(None, 5)] * (2 if cell == "lstm" else 1)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)], ids=["rank2", "rank4"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_input_of_the_wrong_rank_is_a_shape_error_naming_the_layer(cell, shape):
    with pytest.raises(ShapeError, match="wrong_rank"):
        CELLS[cell](3, name="wrong_rank")(layerc.Input(shape))


def test_input_dim_without_input_length_takes_any_number_of_steps():
    """LSTM(32, input_dim=64) in the document's Keras means any number of
    steps: the model is compiled per length (a variable-length input)."""
    model = layerc.Sequential([LSTM(4, input_dim=6, name="dim_only")])
    assert model.input_shape == (None, None, 6)
    rng = np.random.default_rng(0)
    for steps in (10, 3):
        fixed = layerc.Sequential([layerc.Input((steps, 6)), LSTM(4, name="fixed")])
        fixed.set_weights(model.get_weights())
        x = rng.uniform(-1, 1, (2, steps, 6)).astype(np.float32)
        np.testing.assert_allclose(model.predict(x), fixed.predict(x), atol=1e-6)


def test_input_length_without_input_dim_is_refused():
    with pytest.raises(ConfigError, match="input_length needs input_dim"):
        LSTM(3, input_length=10)


# ----- the document's example 6 -----
def test_example_6_embedding_predict_shape():
    model = layerc.Sequential()
    model.add(Embedding(1000, 64, input_length=10))
    model.compile("rmsprop", "mse")
    x = np.random.randint(1000, size=(32, 10))
    out = model.predict(x)
    assert out.shape == (32, 10, 64)
    assert model.output_shape == (None, 10, 64)
    table = model.layers[0].get_weights()[0]
    assert table.shape == (1000, 64)
    np.testing.assert_array_equal(out, table[x])


def test_embedding_mask_zero_config_round_trip():
    layer = Embedding(50, 8, mask_zero=True, input_length=6, name="emb_cfg")
    config = layer.get_config()
    assert config["mask_zero"] is True and config["input_length"] == 6
    assert Embedding.from_config(config).get_config() == config
