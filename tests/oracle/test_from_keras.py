"""`layerc.from_keras` against Keras 3 itself.

Each case builds a model in Keras (random weights), converts it, and checks
that `layerc.compile(converted).predict(x)` gives what the Keras model gives:
every layer family (hypothesis sweeps for the convolutions), every example
model in examples/ (a Keras twin built from the example's layer configs),
masks, stateful layers (successive calls, reset_states, states Keras already
holds), RNN initial_state, shared layers, several inputs and outputs, the
`.keras` file round trip; then the refusals (each ConfigError names the
layer, its class and the option) and the accepted no-op options.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.errors import ArtifactError, ConfigError, LayercError
from layerc.ir import OpKind
from layerc.keras_import import from_keras
from example_helpers import MODEL_EXAMPLES as EXAMPLES

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1:UserWarning"),
]

ATOL = 1e-5
RNN_ATOL = 1e-4
SWEEP = settings(max_examples=15, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


# ----- helpers -----
def data(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return rng.uniform(-scale, scale, shape).astype(np.float32)


def randomize(kmodel: Any, rng: np.random.Generator, scale: float = 0.5) -> None:
    """Uniform noise in every Keras weight, so biases are non-zero too."""
    for klayer in kmodel.layers:
        ws = klayer.get_weights()
        if ws:
            klayer.set_weights([data(rng, w.shape, scale) for w in ws])


def same_structure(model: Any, kmodel: Any) -> None:
    """One layerc layer per Keras layer, same names, same weights."""
    klayers = {kl.name: kl for kl in kmodel.layers}
    for layer in model.layers:
        if layer.kind == "InputLayer":
            continue
        klayer = klayers.pop(layer.name)
        for mine, theirs in zip(layer.get_weights(), klayer.get_weights(), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    assert not [n for n, kl in klayers.items() if type(kl).__name__ != "InputLayer"], klayers


def convert_and_check(oracle: Any, kmodel: Any, xs: Any, atol: float = ATOL) -> Any:
    """Converts, compares structure, and compares the compiled model's outputs
    with Keras's; returns the converted model."""
    model = from_keras(kmodel)
    same_structure(model, kmodel)
    xs = list(xs) if isinstance(xs, (list, tuple)) else [xs]
    want = oracle.run_keras(kmodel, xs)
    got = layerc.compile(model).predict(xs if len(xs) > 1 else xs[0])
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        oracle.assert_close(g, w, f"output {i}", atol)
    return model


def sequential(k: Any, shape: tuple[int, ...], *layers: Any, **input_options: Any) -> Any:
    return k.Sequential([k.Input(shape, **input_options), *layers])


def tokens(rng: np.random.Generator, batch: int, steps: int, vocabulary: int) -> np.ndarray:
    """Token ids with zero padding at the front of each row (some rows unpadded)."""
    ids = rng.integers(1, vocabulary, size=(batch, steps))
    for row, pad in zip(ids, rng.integers(0, steps, size=batch)):
        row[:pad] = 0
    return ids


def refused(fn: Any, *words: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        fn()
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"
    return info.value


# ----- layer families -----
def test_dense_activation_dropout_flatten_reshape(oracle, rng):
    k = oracle.keras
    kmodel = sequential(k, (3, 4, 2), k.layers.Flatten(), k.layers.Dense(12, activation="tanh"),
                        k.layers.Dropout(0.3), k.layers.Reshape((3, -1)),
                        k.layers.Activation("softplus"), k.layers.Flatten(),
                        k.layers.Dense(5, use_bias=False), k.layers.Activation("softmax"))
    randomize(kmodel, rng)
    model = convert_and_check(oracle, kmodel, data(rng, (4, 3, 4, 2)))
    assert isinstance(model, layerc.Sequential)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Flatten", "Dense", "Dropout", "Reshape", "Activation", "Flatten", "Dense", "Activation"]


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "elu", "selu", "gelu", "swish",
                                        "hard_sigmoid", "leaky_relu", "softsign", "linear"])
def test_activations_by_name(oracle, rng, activation):
    k = oracle.keras
    kmodel = sequential(k, (6,), k.layers.Dense(7, activation=activation))
    randomize(kmodel, rng, 2.0)
    convert_and_check(oracle, kmodel, data(rng, (5, 6), 2.0))


def test_activation_layers_with_default_parameters_fuse(oracle, rng):
    """Keras's activation layers become their layerc twins; with an
    activation name's parameters those fuse into the Dense before them."""
    k = oracle.keras
    kmodel = sequential(k, (6,), k.layers.Dense(8), k.layers.ReLU(), k.layers.Dense(8),
                        k.layers.ReLU(max_value=6.0), k.layers.Dense(8),
                        k.layers.LeakyReLU(negative_slope=0.2), k.layers.Dense(8),
                        k.layers.ELU(), k.layers.Dense(4), k.layers.Softmax())
    randomize(kmodel, rng, 2.0)
    model = convert_and_check(oracle, kmodel, data(rng, (5, 6), 3.0))
    assert [layer.kind for layer in model.layers][1::2] == ["ReLU", "ReLU", "LeakyReLU", "ELU",
                                                           "Softmax"]
    dense = [n.attrs.activation for n in layerc.compile(model).graph.nodes()
             if n.op is OpKind.DENSE]
    assert dense == ["relu", "relu6", "leaky_relu", "elu", "softmax"]


def test_training_only_noise_layers_become_dropout(oracle, rng):
    k = oracle.keras
    kmodel = sequential(k, (6, 5, 3), k.layers.SpatialDropout2D(0.3), k.layers.Reshape((30, 3)),
                        k.layers.SpatialDropout1D(0.2), k.layers.GaussianNoise(0.5),
                        k.layers.GaussianDropout(0.4), k.layers.AlphaDropout(0.1),
                        k.layers.Flatten(), k.layers.Dense(4))
    randomize(kmodel, rng)
    model = convert_and_check(oracle, kmodel, data(rng, (2, 6, 5, 3)))
    assert [layer.rate for layer in model.layers if layer.kind == "Dropout"] == \
        pytest.approx([0.3, 0.2, 0.0, 0.4, 0.1])


AUGMENTATION_ARGS = {"RandomRotation": dict(factor=0.2), "RandomZoom": dict(height_factor=0.2),
                     "RandomContrast": dict(factor=0.5), "RandomBrightness": dict(factor=0.3),
                     "RandomTranslation": dict(height_factor=0.2, width_factor=0.2),
                     "RandomColorDegeneration": dict(factor=0.5), "RandomHue": dict(factor=0.5),
                     "RandomSaturation": dict(factor=0.5), "RandomSharpness": dict(factor=0.5),
                     "RandomShear": dict(x_factor=0.3), "RandomPosterization": dict(factor=(1, 4)),
                     "ActivityRegularization": dict(l1=0.1)}


def test_augmentation_layers_are_the_identity_at_inference(oracle, rng):
    """Every augmentation class the importer takes, each in front of a
    convolution, against Keras's own output at inference (training=False)."""
    from layerc.keras_layers import AUGMENTATION

    k = oracle.keras
    for name in AUGMENTATION:
        klayer = getattr(k.layers, name)(**AUGMENTATION_ARGS.get(name, {}), name="aug")
        kmodel = sequential(k, (8, 8, 3), klayer, k.layers.Conv2D(2, 3, name="conv"))
        randomize(kmodel, rng)
        model = convert_and_check(oracle, kmodel, data(rng, (2, 8, 8, 3), 100.0))
        assert model.get_layer("aug").kind == "Dropout" and model.get_layer("aug").rate == 0, name
    refused(lambda: from_keras(sequential(k, (8, 8, 3), k.layers.RandomCrop(4, 4, name="crop"))),
            "'crop'", "RandomCrop", "uncropped")


@st.composite
def conv_options(draw: Any, rank: int) -> dict[str, Any]:
    """Strides and dilation are not both > 1 (Keras and layerc refuse that)."""
    paddings = ["valid", "same", "causal"] if rank == 1 else ["valid", "same"]
    padding = draw(st.sampled_from(paddings))
    dilated = draw(st.booleans())
    stride = 1 if dilated else draw(st.integers(1, 3))
    dilation = draw(st.integers(2, 3)) if dilated else 1
    data_format = "channels_last" if padding == "causal" else \
        draw(st.sampled_from(["channels_last", "channels_first"]))
    return {"filters": draw(st.integers(1, 5)), "kernel_size": draw(st.integers(1, 3)),
            "strides": stride, "padding": padding, "dilation_rate": dilation,
            "data_format": data_format, "use_bias": draw(st.booleans()),
            "activation": draw(st.sampled_from(["linear", "relu", "tanh"]))}


def conv_input_shape(options: dict[str, Any], spatial: tuple[int, ...], channels: int) -> tuple:
    if options["data_format"] == "channels_last":
        return (*spatial, channels)
    return (channels, *spatial)


@SWEEP
@given(options=conv_options(1), length=st.integers(7, 12), channels=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_conv1d_sweep(oracle, options, length, channels, seed):
    rng = np.random.default_rng(seed)
    k = oracle.keras
    shape = conv_input_shape(options, (length,), channels)
    kmodel = sequential(k, shape, k.layers.Conv1D(**options))
    randomize(kmodel, rng)
    convert_and_check(oracle, kmodel, data(rng, (2, *shape)))


@SWEEP
@given(options=conv_options(2), rows=st.integers(7, 10), cols=st.integers(7, 10),
       channels=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_conv2d_sweep(oracle, options, rows, cols, channels, seed):
    rng = np.random.default_rng(seed)
    k = oracle.keras
    shape = conv_input_shape(options, (rows, cols), channels)
    kmodel = sequential(k, shape, k.layers.Conv2D(**options))
    randomize(kmodel, rng)
    convert_and_check(oracle, kmodel, data(rng, (2, *shape)))


# Average pooling with uneven 'same' padding is off in Keras 3.15 on torch
# (keras-team/keras#19721), so the average cases use 'valid'.
POOLS = [("MaxPooling1D", (9, 3), {"pool_size": 3, "strides": 2, "padding": "same"}),
         ("MaxPooling1D", (3, 9), {"pool_size": 2, "data_format": "channels_first"}),
         ("AveragePooling1D", (9, 3), {"pool_size": 3, "strides": 2}),
         ("MaxPooling2D", (7, 6, 2), {"pool_size": (2, 3), "padding": "same"}),
         ("MaxPooling2D", (2, 7, 6), {"pool_size": 2, "data_format": "channels_first"}),
         ("AveragePooling2D", (7, 6, 2), {"pool_size": (3, 2), "strides": (2, 1)}),
         ("GlobalMaxPooling1D", (5, 3), {}),
         ("GlobalAveragePooling1D", (3, 5), {"data_format": "channels_first"}),
         ("GlobalMaxPooling2D", (4, 5, 3), {"keepdims": True}),
         ("GlobalAveragePooling2D", (3, 4, 5), {"data_format": "channels_first"})]


@pytest.mark.parametrize("name,shape,options", POOLS, ids=[f"{p[0]}-{i}"
                                                           for i, p in enumerate(POOLS)])
def test_pooling(oracle, rng, name, shape, options):
    k = oracle.keras
    kmodel = sequential(k, shape, getattr(k.layers, name)(**options))
    convert_and_check(oracle, kmodel, data(rng, (3, *shape)))


@pytest.mark.parametrize("cell,options", [
    ("SimpleRNN", {"return_sequences": True, "activation": "relu"}),
    ("SimpleRNN", {"go_backwards": True}),
    ("GRU", {"return_sequences": True}),
    ("GRU", {"reset_after": False, "go_backwards": True}),
    ("GRU", {"recurrent_activation": "hard_sigmoid", "use_bias": False}),
    ("LSTM", {"return_sequences": True, "go_backwards": True}),
    ("LSTM", {"activation": "relu", "recurrent_activation": "tanh"}),
])
def test_recurrent(oracle, rng, cell, options):
    k = oracle.keras
    kmodel = sequential(k, (12, 4), getattr(k.layers, cell)(6, **options), k.layers.Dense(3))
    randomize(kmodel, rng)
    convert_and_check(oracle, kmodel, data(rng, (3, 12, 4)), RNN_ATOL)


@pytest.mark.parametrize("cell", ["SimpleRNN", "GRU", "LSTM"])
def test_return_state_and_initial_state(oracle, rng, cell):
    """A first RNN's final states start a second one (the encoder/decoder shape)."""
    k = oracle.keras
    encoder_in, decoder_in = k.Input((7, 3), name="enc"), k.Input((5, 2), name="dec")
    first = getattr(k.layers, cell)(4, return_state=True, name="encoder")(encoder_in)
    second = getattr(k.layers, cell)(4, return_sequences=True, name="decoder")(
        decoder_in, initial_state=first[1:])
    kmodel = k.Model([encoder_in, decoder_in], [second, first[0]])
    randomize(kmodel, rng)
    model = convert_and_check(oracle, kmodel, [data(rng, (2, 7, 3)), data(rng, (2, 5, 2))],
                              RNN_ATOL)
    assert model.get_layer("encoder").return_state


def test_embedding_mask_feeds_rnns_and_average_pooling(oracle, rng):
    k = oracle.keras
    ids = k.Input((9,), dtype="int32")
    x = k.layers.Embedding(20, 5, mask_zero=True)(ids)
    x = k.layers.GRU(6, return_sequences=True)(x)
    x = k.layers.Dropout(0.2)(x)
    seq = k.layers.LSTM(4, return_sequences=True)(x)
    pooled = k.layers.GlobalAveragePooling1D()(seq)
    last = k.layers.SimpleRNN(3)(seq)
    kmodel = k.Model(ids, [pooled, last])
    randomize(kmodel, rng)
    convert_and_check(oracle, kmodel, tokens(rng, 5, 9, 20), RNN_ATOL)


def test_merge_layers_with_several_inputs_and_outputs(oracle, rng):
    k = oracle.keras
    a, b, c = (k.Input((4,), name=n) for n in "abc")
    da, db, dc = (k.layers.Dense(6, name=f"d{n}")(t) for n, t in zip("abc", (a, b, c)))
    merged = [k.layers.Add()([da, db, dc]), k.layers.Subtract()([da, db]),
              k.layers.Multiply()([da, dc]), k.layers.Average()([db, dc]),
              k.layers.Maximum()([da, db, dc]), k.layers.Minimum()([da, dc])]
    joined = k.layers.Concatenate()(merged)
    kmodel = k.Model([a, b, c], [k.layers.Dense(3)(joined), merged[1]])
    randomize(kmodel, rng)
    model = convert_and_check(oracle, kmodel, [data(rng, (3, 4)) for _ in range(3)])
    assert len(model.inputs) == 3 and len(model.outputs) == 2


def test_concatenate_on_another_axis(oracle, rng):
    k = oracle.keras
    a, b = k.Input((3, 4)), k.Input((5, 4))
    kmodel = k.Model([a, b], k.layers.Concatenate(axis=1)([a, b]))
    convert_and_check(oracle, kmodel, [data(rng, (2, 3, 4)), data(rng, (2, 5, 4))])


def test_shared_layer_is_one_layer_called_twice(oracle, rng):
    k = oracle.keras
    left, right = k.Input((5,)), k.Input((5,))
    shared = k.layers.Dense(4, activation="relu", name="shared")
    kmodel = k.Model([left, right], k.layers.Subtract()([shared(left), shared(right)]))
    randomize(kmodel, rng)
    model = convert_and_check(oracle, kmodel, [data(rng, (3, 5)), data(rng, (3, 5))])
    layer = model.get_layer("shared")
    assert len(layer._nodes) == 2
    assert layer.get_input_shape_at(1) == (None, 5)


# ----- the examples -----
def keras_twin(k: Any, model: Any) -> Any:
    """A Keras Sequential with the layers, options and weights of a layerc one
    (initializers and layerc's input-shape spellings left out)."""
    in_layer = model.inputs[0].layer
    klayers = [getattr(k.layers, layer.kind)(**comparable(layer)) for layer in model.layers]
    kinput = k.Input(batch_shape=(in_layer.batch_size, *in_layer.shape), dtype=in_layer.dtype)
    kmodel = k.Sequential([kinput, *klayers], name=model.name)
    for layer, klayer in zip(model.layers, klayers):
        if layer.get_weights():
            klayer.set_weights(layer.get_weights())
    return kmodel


def comparable(layer: Any) -> dict[str, Any]:
    """A layer's config without initializers and input-shape spellings (and
    an axis of one as an int: a built Keras LayerNormalization lists it)."""
    return {key: value[0] if key == "axis" and isinstance(value, list) and len(value) == 1
            else value for key, value in layer.get_config().items()
            if key not in ("batch_input_shape", "input_length")
            and not key.endswith("initializer")}


def reset_keras_states(kmodel: Any) -> None:
    for klayer in kmodel.layers:
        if getattr(klayer, "stateful", False):
            klayer.reset_states()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_models(oracle, rng, path, tmp_path):
    """Two calls, reset_states, a third call: the same numbers as Keras (the
    streaming GRU carries its state across the calls); then the .keras file
    Keras writes for the model converts to the same numbers."""
    namespace = runpy.run_path(str(path), run_name="example")
    original = namespace["build_model"]()
    if "build" in namespace:  # a functional model written once for layerc and keras
        kmodel = namespace["build"](oracle.keras)
        oracle.copy_weights(original, kmodel)
    else:
        kmodel = keras_twin(oracle.keras, original)
    model = from_keras(kmodel)
    same_structure(model, kmodel)
    assert model.name == original.name
    assert [comparable(layer) for layer in model.layers] == \
        [comparable(layer) for layer in original.layers]
    compiled = layerc.compile(model)
    make = namespace.get("sample_inputs")
    in_layer = original.inputs[0].layer
    batch = in_layer.batch_size or 3
    calls = [make(batch=batch, seed=s) if make else data(rng, (batch, *in_layer.shape))
             for s in (1, 2, 3)]
    atol = RNN_ATOL if any(layer.kind in ("LSTM", "GRU") for layer in original.layers) else ATOL
    for i, x in enumerate(calls):
        if i == 2:
            compiled.reset_states()
            reset_keras_states(kmodel)
        want = oracle.run_keras(kmodel, [x])[0]
        oracle.assert_close(compiled.predict(x), want, f"{path.stem} call {i}", atol)
    if not any(getattr(layer, "stateful", False) for layer in original.layers):
        oracle.assert_close(layerc.compile(original).predict(calls[0]),
                            oracle.run_keras(kmodel, [calls[0]])[0], "the example itself", atol)
    file = tmp_path / f"{path.stem}.keras"
    kmodel.save(file)
    reset_keras_states(kmodel)
    from_file = layerc.compile(from_keras(file))  # a loaded file holds no states
    oracle.assert_close(from_file.predict(calls[0]), oracle.run_keras(kmodel, [calls[0]])[0],
                        f"{path.stem} from its .keras file", atol)


def test_stateful_layer_keeps_the_states_keras_holds(oracle, rng):
    k = oracle.keras
    kmodel = sequential(k, None, k.layers.LSTM(5, stateful=True, return_sequences=True),
                        batch_shape=(2, 4, 3))
    randomize(kmodel, rng)
    first, second = data(rng, (2, 4, 3)), data(rng, (2, 4, 3))
    oracle.run_keras(kmodel, [first])  # Keras now holds non-zero states
    model = from_keras(kmodel)
    compiled = layerc.compile(model)
    oracle.assert_close(compiled.predict(second), oracle.run_keras(kmodel, [second])[0],
                        "continuing", RNN_ATOL)
    compiled.reset_states()
    reset_keras_states(kmodel)
    oracle.assert_close(compiled.predict(first), oracle.run_keras(kmodel, [first])[0],
                        "after reset_states", RNN_ATOL)


# ----- .keras files -----
def test_keras_file_round_trip(oracle, rng, tmp_path):
    k = oracle.keras
    ids = k.Input((8,), dtype="int32", name="ids")
    features = k.Input((6,), name="features")
    text = k.layers.LSTM(4)(k.layers.Embedding(15, 3, mask_zero=True)(ids))
    joined = k.layers.Concatenate()([text, k.layers.Dense(4, activation="relu")(features)])
    kmodel = k.Model([ids, features], k.layers.Dense(2, activation="softmax")(joined))
    randomize(kmodel, rng)
    path = tmp_path / "m.keras"
    kmodel.save(path)
    xs = [tokens(rng, 4, 8, 15), data(rng, (4, 6))]
    for given_as in (path, str(path)):
        model = from_keras(given_as)
        got = layerc.compile(model).predict(xs)
        oracle.assert_close(got, oracle.run_keras(kmodel, xs)[0], f"from {type(given_as)}",
                            RNN_ATOL)



def test_cli_compiles_a_keras_file_into_an_artifact(oracle, rng, tmp_path):
    """`layerc compile m.keras -o m.lcz`, then `layerc run`, as a user would."""
    k = oracle.keras
    kmodel = sequential(k, (5, 3), k.layers.Conv1D(4, 2, activation="relu"),
                        k.layers.GlobalMaxPooling1D(), k.layers.Dense(2))
    randomize(kmodel, rng)
    kmodel.save(tmp_path / "m.keras")
    x = data(rng, (3, 5, 3))
    np.save(tmp_path / "x.npy", x)
    env = dict(os.environ, KERAS_BACKEND="torch")
    for args in (("compile", str(tmp_path / "m.keras"), "-o", str(tmp_path / "m.lcz")),
                 ("run", str(tmp_path / "m.lcz"), "--input", str(tmp_path / "x.npy"),
                  "--output", str(tmp_path / "y.npy"))):
        run = subprocess.run([sys.executable, "-m", "layerc", *args], capture_output=True,
                             text=True, env=env, timeout=300)
        assert run.returncode == 0, run.stderr
    oracle.assert_close(np.load(tmp_path / "y.npy"), oracle.run_keras(kmodel, [x])[0],
                        "layerc run of the compiled .keras file")

def test_missing_and_unreadable_files(tmp_path):
    missing = tmp_path / "nope.keras"
    with pytest.raises(ArtifactError, match="nope.keras"):
        from_keras(missing)
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(ArtifactError, match="broken.keras"):
        from_keras(str(broken))
    other = tmp_path / "model.pb"
    other.write_bytes(b"")
    refused(lambda: from_keras(other), "model.pb", ".keras", ".h5")


def test_wrong_argument_type_is_a_type_error():
    for wrong in (42, None, layerc.Sequential()):
        with pytest.raises(TypeError, match="Keras 3 model") as info:
            from_keras(wrong)
        assert isinstance(info.value, LayercError)


def test_import_layerc_does_not_import_keras_or_torch():
    code = ("import sys, layerc, layerc.keras_import, layerc.keras_layers; "
            "print(sorted(m for m in ('keras', 'torch') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


# ----- refusals -----
def test_conv2d_lora_refused(oracle):
    k = oracle.keras
    kmodel = sequential(k, (6, 6, 4), k.layers.Conv2D(4, 3, lora_rank=2, name="lora"))
    refused(lambda: from_keras(kmodel), "'lora'", "Conv2D", "lora_rank=2", "only None or 0")


def test_layer_type_layerc_lacks_refused(oracle):
    k = oracle.keras
    kmodel = sequential(k, (5, 3), k.layers.Dense(3), k.layers.AdaptiveMaxPooling1D(2, name="cl"))
    error = refused(lambda: from_keras(kmodel), "'cl'", "AdaptiveMaxPooling1D", "no such layer",
                    "README")
    assert "Dense" not in str(error)  # no list of every class it converts


def test_every_class_layerc_lacks_is_refused_at_once(oracle):
    """Counts and first layer per missing class, in one error."""
    k = oracle.keras
    x = k.Input((6, 4))
    y = k.layers.Discretization(bin_boundaries=[0.0], name="d1")(x)
    y = k.layers.AdaptiveAveragePooling1D(3, name="ap")(k.layers.Dense(4)(y))
    y = k.layers.Discretization(bin_boundaries=[0.5], name="d2")(y)
    y = k.layers.AdaptiveMaxPooling1D(2, name="mp")(y)
    error = refused(lambda: from_keras(k.Model(x, y, name="several")), "'several'",
                    "Discretization x2 (first: 'd1')",
                    "AdaptiveAveragePooling1D x1 (first: 'ap')",
                    "AdaptiveMaxPooling1D x1 (first: 'mp')", "README")
    assert "Dense" not in str(error)


def test_mixed_precision_policy_refused(oracle):
    k = oracle.keras
    kmodel = sequential(k, (5,), k.layers.Dense(3, dtype="mixed_float16", name="half"))
    refused(lambda: from_keras(kmodel), "'half'", "Dense", "dtype=", "mixed_float16", "float32")


def test_unknown_config_key_refused(oracle):
    k = oracle.keras
    kmodel = sequential(k, (5,), k.layers.Dense(3, name="odd"))
    layer = kmodel.get_layer("odd")
    config = layer.get_config()
    layer.get_config = lambda: {**config, "frobnicate": 3}
    refused(lambda: from_keras(kmodel), "'odd'", "Dense", "frobnicate=3", "units")


@pytest.mark.parametrize("make,shape,words", [
    (lambda k: k.layers.Dense(3, lora_rank=2, name="x"), (4, 5), ["lora_rank=2"]),
    (lambda k: k.layers.SimpleRNN(3, zero_output_for_mask=True, name="x"), (4, 5),
     ["zero_output_for_mask=True", "return_sequences=True only"]),
    (lambda k: k.layers.UpSampling2D(interpolation="lanczos3", name="x"), (4, 5, 2),
     ["interpolation 'lanczos3' is not supported", "nearest, bilinear, bicubic"]),
])
def test_values_layerc_cannot_honour_refused(oracle, make, shape, words):
    k = oracle.keras
    layer = make(k)
    kmodel = sequential(k, shape, layer)
    refused(lambda: from_keras(kmodel), "'x'", type(layer).__name__, *words)


def test_layerc_own_checks_are_reported_with_the_keras_layer(oracle):
    k = oracle.keras
    kmodel = sequential(k, (6,), k.layers.Embedding(2**24 + 1, 1, name="huge"))
    refused(lambda: from_keras(kmodel), "from_keras", "'huge'", "Embedding", "input_dim")


def test_graph_refusals(oracle):
    k = oracle.keras
    x = k.Input((4,))
    ops_model = k.Model(x, k.ops.matmul(k.layers.Dense(2)(x), k.ops.ones((2, 2))))
    refused(lambda: from_keras(ops_model), "Keras op", "matmul", "not converted")
    training = k.Model(x, k.layers.Dropout(0.5, name="drop")(x, training=True))
    refused(lambda: from_keras(training), "'drop'", "training=True")
    refused(lambda: from_keras(k.Sequential([k.layers.Dense(2)])), "not built")

    class Subclassed(k.Model):
        def call(self, inputs):
            return inputs

    refused(lambda: from_keras(Subclassed()), "subclassed")


def test_mask_keras_drops_with_initial_state_refused(oracle):
    """Keras 3 ignores the Embedding mask of an RNN called with initial_state;
    layerc would apply it, so the importer refuses rather than differ."""
    k = oracle.keras
    ids, h = k.Input((6,), dtype="int32"), k.Input((3,))
    seq = k.layers.Embedding(9, 2, mask_zero=True)(ids)
    kmodel = k.Model([ids, h], k.layers.GRU(3, name="rnn")(seq, initial_state=[h]))
    refused(lambda: from_keras(kmodel), "'rnn'", "GRU", "mask", "initial_state")


# ----- accepted options that do not change inference -----
def test_training_only_options_are_accepted(oracle, rng):
    k = oracle.keras
    reg = k.regularizers.L2(0.01)
    kmodel = sequential(
        k, (10, 3),
        k.layers.Conv1D(4, 3, kernel_regularizer=reg, bias_constraint=k.constraints.NonNeg(),
                        activity_regularizer=k.regularizers.L1(0.1),
                        kernel_initializer="he_normal"),
        k.layers.LSTM(5, dropout=0.3, recurrent_dropout=0.2, seed=7, unroll=True,
                      recurrent_regularizer=reg, return_sequences=True),
        k.layers.GRU(4, dropout=0.5, seed=3),
        k.layers.Dropout(0.4, noise_shape=(None, 1), seed=1),
        k.layers.Dense(2, kernel_regularizer=reg, bias_regularizer=reg, trainable=False))
    randomize(kmodel, rng)
    convert_and_check(oracle, kmodel, data(rng, (3, 10, 3)), RNN_ATOL)


def test_a_lambda_activation_is_refused_in_words(oracle, tmp_path):
    """Keras serializes a lambda from a file as bytecode, and cannot serialize
    one typed at a prompt at all; both are refused by name, in a sentence."""
    k = oracle.keras
    kmodel = sequential(k, (3,), k.layers.Dense(2, activation=lambda t: t * 2))
    refused(lambda: from_keras(kmodel), "layer 'dense", "activation=a Python function",
            "layerc supports one of")
    typed = ("import keras, layerc\n"
             "dense = keras.layers.Dense(2, activation=lambda t: t)\n"
             "layerc.from_keras(keras.Sequential([keras.Input((3,)), dense]))\n")
    prompt = subprocess.run([sys.executable, "-c", typed], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "KERAS_BACKEND": "torch"})
    assert prompt.returncode == 1
    assert "ConfigError: from_keras: layer 'dense" in prompt.stderr
    assert "Keras cannot describe its options" in prompt.stderr


def test_nested_models_are_inlined(oracle, rng):
    """An encoder inside an autoencoder, a model called twice (its weights
    shared), a Sequential inside a Sequential."""
    k = oracle.keras
    enc = k.Sequential([k.Input((8,)), k.layers.Dense(4, activation="relu", name="e1"),
                        k.layers.Dense(2, name="e2")], name="enc")
    dec = k.Sequential([k.Input((2,)), k.layers.Dense(8, name="d1")], name="dec")
    x = k.Input((8,))
    auto = k.Model(x, dec(enc(x)), name="auto")
    a, b = k.Input((8,)), k.Input((8,))
    twice = k.Model([a, b], k.layers.Subtract()([enc(a), enc(b)]))
    stacked = k.Sequential([k.Input((8,)), enc, k.layers.Dense(3, name="head")])
    randomize(auto, rng, 1.0)
    xs = data(rng, (3, 8), 1.0)
    for kmodel, args in ((auto, [xs]), (twice, [xs, xs[::-1].copy()]), (stacked, [xs])):
        model = from_keras(kmodel)
        oracle.assert_close(layerc.compile(model).predict(args if len(args) > 1 else args[0]),
                            oracle.run_keras(kmodel, args)[0], kmodel.name, 1e-5, 1e-5)
    assert [layer.name for layer in from_keras(twice).layers if layer.kind == "Dense"] == \
        ["e1", "e2"]


def test_shape_errors_name_the_keras_layer_not_the_calling_line(oracle):
    k = oracle.keras
    kmodel = sequential(k, (None, 4), k.layers.Flatten(name="flat"))
    with pytest.raises(layerc.ShapeError) as info:
        from_keras(kmodel)
    message = str(info.value)
    assert "layer 'flat' (Keras Flatten)" in message and "dimension known" in message
    assert "test_from_keras.py" not in message and " at " not in message
