"""The Keras 3 layer classes `from_keras` converts, one option table each.

Every Keras config key a converter meets is in its class's table, which says
what happens to it: handed to the layerc constructor under the same name
(`PASS`), accepted and dropped because it cannot change what inference
computes (`DROP`: initializers, regularizers, constraints, dropout rates,
seeds), or accepted only for the values layerc implements (`only(...)`).
A key that is missing from the table, or a value outside what the table
accepts, is a ConfigError naming the Keras layer, its class, the option, its
value and what is supported: nothing is silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import numpy as np

from layerc import layers as L
from layerc.errors import ConfigError
from layerc.ir import activations as ir_activations
from layerc.layers.base import Layer


def _anything(value: Any) -> bool:
    return True


@dataclass(frozen=True)
class Key:
    """What the importer does with one Keras config key."""

    keep: bool  # handed to the layerc constructor (which checks the value further)
    accepts: Callable[[Any], bool] = _anything
    supported: str = "any value"


PASS = Key(keep=True)
DROP = Key(keep=False)  # no effect at inference


def _same(value: Any, allowed: Any) -> bool:
    """Equality that keeps True apart from 1 and False from 0 and None."""
    return type(value) is type(allowed) and value == allowed


def only(*values: Any, keep: bool = False) -> Key:
    words = " or ".join(repr(v) for v in values)
    return Key(keep, lambda v: any(_same(v, a) for a in values), f"only {words}")


def _is_activation(value: Any) -> bool:
    return isinstance(value, str) and (ir_activations.canonical(value) is not None or
                                       value == "glu")


def _is_float32_policy(value: Any) -> bool:
    """Keras serializes a layer's dtype as a DTypePolicy dict (or, in older
    files, a plain dtype name)."""
    if isinstance(value, str):
        return value == "float32"
    if not isinstance(value, dict):
        return False
    config = value.get("config")
    return value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and \
        isinstance(config, dict) and config.get("name") == "float32"


ACTIVATION = Key(True, _is_activation,
                 f"one of layerc's activations "
                 f"({', '.join(sorted([*ir_activations.ACTIVATIONS, 'glu']))})")
FLOAT32 = Key(False, _is_float32_policy, "only the 'float32' dtype policy (layerc computes in "
                                          "float32; mixed or quantized policies are refused)")

# ----- option tables -----
BASE = {"name": PASS, "trainable": DROP, "dtype": FLOAT32, "activity_regularizer": DROP}
KERNEL_TRAINING = {key: DROP for key in (
    "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
    "kernel_constraint", "bias_constraint")}
NO_LORA = {"lora_rank": only(None, 0), "lora_alpha": only(None),
           "quantization_config": only(None)}

INPUT = {"name": PASS, "batch_shape": PASS,
         "dtype": Key(True, lambda v: v in ("float32", "int32", "int64"),
                      "'float32', 'int32' or 'int64'"),
         "sparse": only(False), "ragged": only(False), "optional": only(False)}
DENSE = {**BASE, **KERNEL_TRAINING, **NO_LORA, "units": PASS, "activation": ACTIVATION,
         "use_bias": PASS}
ACTIVATION_LAYER = {**BASE, "activation": ACTIVATION}
DROPOUT = {**BASE, "rate": PASS, "noise_shape": DROP, "seed": DROP}  # identity at inference
FLATTEN = {**BASE, "data_format": PASS}
RESHAPE = {**BASE, "target_shape": PASS}
CONV = {**BASE, **KERNEL_TRAINING, **NO_LORA, "filters": PASS, "kernel_size": PASS,
        "strides": PASS, "padding": PASS, "data_format": PASS, "dilation_rate": PASS,
        "groups": PASS, "activation": ACTIVATION, "use_bias": PASS}
CONV_TRANSPOSE = {**BASE, **KERNEL_TRAINING, "filters": PASS, "kernel_size": PASS,
                  "strides": PASS, "padding": PASS, "output_padding": PASS, "data_format": PASS,
                  "dilation_rate": PASS, "activation": ACTIVATION, "use_bias": PASS}
_WINDOW = {"kernel_size": PASS, "strides": PASS, "padding": PASS, "data_format": PASS,
           "dilation_rate": PASS, "depth_multiplier": PASS, "activation": ACTIVATION,
           "use_bias": PASS, "bias_initializer": DROP, "bias_regularizer": DROP,
           "bias_constraint": DROP}
DEPTHWISE_CONV = {**BASE, **_WINDOW, **{f"depthwise_{kind}": DROP for kind in (
    "initializer", "regularizer", "constraint")}}
SEPARABLE_CONV = {**BASE, **_WINDOW, "filters": PASS, **{f"{part}_{kind}": DROP for part in (
    "depthwise", "pointwise") for kind in ("initializer", "regularizer", "constraint")}}
POOL = {**BASE, "pool_size": PASS, "strides": PASS, "padding": PASS, "data_format": PASS}
GLOBAL_POOL = {**BASE, "data_format": PASS, "keepdims": PASS}
EMBEDDING = {**BASE, **NO_LORA, "input_dim": PASS, "output_dim": PASS, "mask_zero": PASS,
             "embeddings_initializer": DROP, "embeddings_regularizer": DROP,
             "embeddings_constraint": DROP}
BATCH_NORMALIZATION = {
    **BASE, "axis": PASS, "epsilon": PASS, "center": PASS, "scale": PASS,
    "momentum": DROP, "synchronized": DROP,  # training only
    **{f"{w}_{kind}": DROP for w in ("beta", "gamma") for kind in (
        "initializer", "regularizer", "constraint")},
    "moving_mean_initializer": DROP, "moving_variance_initializer": DROP,
    # inference reads the moving statistics either way, but renorm adds weights
    "renorm": only(False), "renorm_clipping": DROP, "renorm_momentum": DROP}
RESCALING = {**BASE, "scale": DROP, "offset": DROP}  # read from the layer (convert_rescaling)
REPEAT_VECTOR = {**BASE, "n": PASS}
MERGE = dict(BASE)
CONCATENATE = {**BASE, "axis": PASS}
DOT = {**BASE, "axes": PASS, "normalize": PASS}
SIMPLE_RNN = {
    **BASE, **KERNEL_TRAINING, "recurrent_initializer": DROP, "recurrent_regularizer": DROP,
    "recurrent_constraint": DROP, "dropout": DROP, "recurrent_dropout": DROP, "seed": DROP,
    "units": PASS, "activation": ACTIVATION, "use_bias": PASS, "return_sequences": PASS,
    "return_state": PASS, "go_backwards": PASS, "stateful": PASS,
    "unroll": DROP,  # the same numbers either way
    "use_cudnn": DROP,  # an implementation choice, the same numbers
    # zeros for masked steps' outputs (with return_sequences; the layer checks)
    "zero_output_for_mask": PASS}
GRU = {**SIMPLE_RNN, "recurrent_activation": ACTIVATION, "reset_after": PASS}
LSTM = {**SIMPLE_RNN, "recurrent_activation": ACTIVATION,
        "unit_forget_bias": DROP}  # only how the bias is initialized
RECURRENT_TABLES = {"SimpleRNN": SIMPLE_RNN, "GRU": GRU, "LSTM": LSTM}
_RNN_KEYS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "use_cudnn", "zero_output_for_mask", "activity_regularizer")
CELL_TABLES = {f"{name}Cell": {k: v for k, v in table.items() if k not in _RNN_KEYS}
               for name, table in RECURRENT_TABLES.items()}
MULTI_HEAD_ATTENTION = {
    **BASE, **KERNEL_TRAINING, "num_heads": PASS, "key_dim": PASS, "value_dim": PASS,
    "dropout": PASS, "use_bias": PASS, "output_shape": PASS, "attention_axes": PASS,
    "seed": DROP, "sliding_window": only(None), "use_gate": only(False)}
RNN_LAYER = {"name": PASS, "trainable": DROP, "dtype": FLOAT32, "cell": DROP,
             "return_sequences": PASS, "return_state": PASS, "go_backwards": PASS,
             "stateful": PASS, "unroll": DROP, "zero_output_for_mask": PASS}
STACKED_CELLS = {"name": DROP, "trainable": DROP, "dtype": FLOAT32, "cells": DROP}


# ----- activation, normalization and reshaping layers -----
RELU = {**BASE, "max_value": PASS, "negative_slope": PASS, "threshold": PASS}
LEAKY_RELU = {**BASE, "negative_slope": PASS}
ELU = {**BASE, "alpha": PASS}
SOFTMAX = {**BASE, "axis": PASS}
PRELU = {**BASE, "alpha_initializer": DROP, "alpha_regularizer": DROP, "alpha_constraint": DROP,
         "shared_axes": PASS}
NORM_TRAINING = {key: DROP for key in (
    "beta_initializer", "gamma_initializer", "beta_regularizer", "gamma_regularizer",
    "beta_constraint", "gamma_constraint")}
LAYER_NORMALIZATION = {**BASE, **NORM_TRAINING, "axis": PASS, "epsilon": PASS, "center": PASS,
                       "scale": PASS, "rms_scaling": PASS}
GROUP_NORMALIZATION = {**BASE, **NORM_TRAINING, "groups": PASS, "axis": PASS, "epsilon": PASS,
                       "center": PASS, "scale": PASS}
UNIT_NORMALIZATION = {**BASE, "axis": PASS}
# mean and variance are read from the layer, given or adapted (normalization_weights)
NORMALIZATION = {**BASE, "axis": PASS, "invert": PASS, "mean": DROP, "variance": DROP}
PERMUTE = {**BASE, "dims": PASS}
ZERO_PADDING = {**BASE, "padding": PASS, "data_format": PASS}
CROPPING_1D = {**BASE, "cropping": PASS}
CROPPING_2D = {**BASE, "cropping": PASS, "data_format": PASS}
UP_SAMPLING_1D = {**BASE, "size": PASS}
UP_SAMPLING_2D = {**BASE, "size": PASS, "data_format": PASS, "interpolation": PASS}
MASKING = {**BASE, "mask_value": PASS}
# The wrapped layers are read from the wrapper (convert_bidirectional, ...).
BIDIRECTIONAL = {**BASE, "layer": DROP, "merge_mode": PASS, "backward_layer": DROP}
TIME_DISTRIBUTED = {**BASE, "layer": DROP}


# ----- Keras noise and dropout layers: the identity at inference, a layerc Dropout -----
SPATIAL_DROPOUT = {**BASE, "rate": DROP, "seed": DROP, "data_format": DROP}
GAUSSIAN_NOISE = {**BASE, "stddev": DROP, "seed": DROP}
GAUSSIAN_DROPOUT = {**BASE, "rate": DROP, "seed": DROP}
ALPHA_DROPOUT = {**BASE, "rate": DROP, "seed": DROP, "noise_shape": DROP}


# ----- converters -----
def label(klayer: Any) -> str:
    return f"layer {klayer.name!r} (Keras {type(klayer).__name__})"


def config_of(klayer: Any) -> dict[str, Any]:
    """The Keras layer's config; a layer Keras cannot describe (e.g. one given
    a lambda in an interactive session) is refused by name."""
    try:
        return klayer.get_config()
    except Exception as err:  # noqa: BLE001  (whatever Keras raises)
        raise ConfigError(f"from_keras: {label(klayer)}: Keras cannot describe its options "
                          f"({type(err).__name__}: {err}); options given as Python functions "
                          f"or lambdas cannot be converted") from None


def shown(value: Any) -> str:
    """A config value as the user wrote it: `DTypePolicy('mixed_float16')`
    rather than the whole serialized dict."""
    if isinstance(value, dict) and set(value) == {"value"} and isinstance(value["value"], tuple):
        return "a Python function (serialized bytecode)"  # how Keras writes a lambda
    if not isinstance(value, dict) or "class_name" not in value:
        return repr(value)
    config = value.get("config")
    name = config.get("name") if isinstance(config, dict) else config
    return f"{value['class_name']}({name!r})" if name is not None else str(value["class_name"])


def checked_options(klayer: Any, table: dict[str, Key]) -> dict[str, Any]:
    """The Keras config keys `table` passes on; refuses unknown keys and
    values layerc cannot honour."""
    config = config_of(klayer)
    unknown = sorted(set(config) - set(table))
    if unknown:
        key = unknown[0]
        raise ConfigError(f"from_keras: {label(klayer)}: option {key}={config[key]!r} is not "
                          f"supported; the options layerc knows for this class are "
                          f"{', '.join(sorted(table))}")
    options = {}
    for key, value in config.items():
        rule = table[key]
        if not rule.accepts(value):
            raise ConfigError(f"from_keras: {label(klayer)}: option {key}={shown(value)} is not "
                              f"supported; layerc supports {rule.supported}")
        if rule.keep:
            options[key] = value
    return options


def build(klayer: Any, cls: type[Layer], options: dict[str, Any]) -> Layer:
    """The layerc layer; its own option checks are reported in Keras's words."""
    try:
        return cls(**options)
    except ConfigError as err:
        raise ConfigError(f"from_keras: {label(klayer)}: {err}") from None


def same_class(cls: type[Layer], table: dict[str, Key]) -> Callable[[Any], Layer]:
    """The common case: the layerc class of the same name takes the options."""
    def convert(klayer: Any) -> Layer:
        return build(klayer, cls, checked_options(klayer, table))

    return convert


def as_dropout(table: dict[str, Key]) -> Callable[[Any], Layer]:
    """Keras's SpatialDropout, Gaussian and Alpha layers act only in training."""
    def convert(klayer: Any) -> Layer:
        options = checked_options(klayer, table)
        rate = config_of(klayer).get("rate", 0.0)
        return build(klayer, L.Dropout, {**options, "rate": rate})

    return convert


# Keras's augmentation layers and ActivityRegularization: the input unchanged
# at inference (each checked against Keras 3.15 in tests/oracle/test_from_keras.py).
AUGMENTATION = (
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast", "RandomTranslation",
    "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter", "RandomGrayscale",
    "RandomHue", "RandomSaturation", "RandomSharpness", "RandomShear", "RandomPosterization",
    "RandomInvert", "RandomGaussianBlur", "RandomPerspective", "RandomElasticTransform",
    "RandomErasing", "AugMix", "RandAugment", "CutMix", "MixUp", "ActivityRegularization")


def as_identity(klayer: Any) -> Layer:
    """A layer that acts only in training: a layerc Dropout of rate 0. Every
    option but the name and dtype shapes training alone, so all are dropped."""
    table = {**{key: DROP for key in config_of(klayer)}, **BASE}
    return build(klayer, L.Dropout, {**checked_options(klayer, table), "rate": 0.0})


def convert_rescaling(klayer: Any) -> Layer:
    """Keras's Rescaling keeps its scale and offset as given (numbers or
    arrays); a per-channel one follows Keras's image_data_format, which
    layerc takes only as channels_last (the last axis)."""
    options = checked_options(klayer, RESCALING)
    scale, offset = np.asarray(klayer.scale), np.asarray(klayer.offset)
    if max(scale.ndim, offset.ndim) > 0:
        import keras

        if keras.config.image_data_format() != "channels_last":
            raise ConfigError(f"from_keras: {label(klayer)}: a per-channel scale or offset "
                              f"under image_data_format "
                              f"{keras.config.image_data_format()!r} is not supported; "
                              f"layerc supports only 'channels_last'")
    return build(klayer, L.Rescaling, {**options, "scale": scale.tolist(),
                                       "offset": offset.tolist()})


def refuse_random_crop(klayer: Any) -> Layer:
    raise ConfigError(f"from_keras: {label(klayer)}: at inference Keras 3.15 returns the input "
                      f"uncropped while the layer's output shape says cropped, so layerc "
                      f"cannot follow both; crop with Cropping2D or resize before the model")


def convert_bidirectional(klayer: Any) -> Layer:
    """Keras's Bidirectional holds its two directions as layers of their
    own (`forward_<name>`, `backward_<name>`), converted here."""
    options = checked_options(klayer, BIDIRECTIONAL)
    directions = []
    for inner in (klayer.forward_layer, klayer.backward_layer):
        if type(inner).__name__ not in RECURRENT_TABLES:
            raise ConfigError(f"from_keras: {label(klayer)}: wraps {label(inner)}; layerc's "
                              f"Bidirectional wraps SimpleRNN, GRU or LSTM")
        table = RECURRENT_TABLES[type(inner).__name__]
        directions.append(same_class(getattr(L, type(inner).__name__), table)(inner))
    return build(klayer, L.Bidirectional, {**options, "layer": directions[0],
                                           "backward_layer": directions[1]})


def convert_rnn(klayer: Any) -> Layer:
    """Keras's RNN(cell): one cell becomes its layer (an LSTM for an
    LSTMCell), a StackedRNNCells layerc's RNN over the cells."""
    options = checked_options(klayer, RNN_LAYER)
    stacked = type(klayer.cell).__name__ == "StackedRNNCells"
    if stacked:
        checked_options(klayer.cell, STACKED_CELLS)
    cells = []
    for cell in klayer.cell.cells if stacked else [klayer.cell]:
        kind = type(cell).__name__
        if kind not in CELL_TABLES:
            raise ConfigError(f"from_keras: {label(klayer)}: its cell {label(cell)} is not one "
                              f"layerc runs (SimpleRNNCell, GRUCell, LSTMCell or "
                              f"StackedRNNCells of them)")
        cells.append(getattr(L, kind)(**checked_options(cell, CELL_TABLES[kind])))
    return build(klayer, L.RNN, {**options,
                                 "cell": L.StackedRNNCells(cells) if stacked else cells[0]})


def convert_time_distributed(klayer: Any) -> Layer:
    options = checked_options(klayer, TIME_DISTRIBUTED)
    return build(klayer, L.TimeDistributed, {**options, "layer": convert_layer(klayer.layer)})


def convert_input(klayer: Any) -> Layer:
    options = checked_options(klayer, INPUT)
    return build(klayer, L.InputLayer, options)


CONVERTERS: dict[str, Callable[[Any], Layer]] = {
    "InputLayer": convert_input,
    "Dense": same_class(L.Dense, DENSE),
    "Activation": same_class(L.Activation, ACTIVATION_LAYER),
    "Dropout": same_class(L.Dropout, DROPOUT),
    "Flatten": same_class(L.Flatten, FLATTEN),
    "Reshape": same_class(L.Reshape, RESHAPE),
    "Conv1D": same_class(L.Conv1D, CONV),
    "Conv2D": same_class(L.Conv2D, CONV),
    "RNN": convert_rnn,
    "MultiHeadAttention": same_class(L.MultiHeadAttention, MULTI_HEAD_ATTENTION),
    "Conv1DTranspose": same_class(L.Conv1DTranspose, CONV_TRANSPOSE),
    "Conv2DTranspose": same_class(L.Conv2DTranspose, CONV_TRANSPOSE),
    "DepthwiseConv1D": same_class(L.DepthwiseConv1D, DEPTHWISE_CONV),
    "DepthwiseConv2D": same_class(L.DepthwiseConv2D, DEPTHWISE_CONV),
    "SeparableConv1D": same_class(L.SeparableConv1D, SEPARABLE_CONV),
    "SeparableConv2D": same_class(L.SeparableConv2D, SEPARABLE_CONV),
    "MaxPooling1D": same_class(L.MaxPooling1D, POOL),
    "MaxPooling2D": same_class(L.MaxPooling2D, POOL),
    "AveragePooling1D": same_class(L.AveragePooling1D, POOL),
    "AveragePooling2D": same_class(L.AveragePooling2D, POOL),
    "GlobalMaxPooling1D": same_class(L.GlobalMaxPooling1D, GLOBAL_POOL),
    "GlobalMaxPooling2D": same_class(L.GlobalMaxPooling2D, GLOBAL_POOL),
    "GlobalAveragePooling1D": same_class(L.GlobalAveragePooling1D, GLOBAL_POOL),
    "GlobalAveragePooling2D": same_class(L.GlobalAveragePooling2D, GLOBAL_POOL),
    "Embedding": same_class(L.Embedding, EMBEDDING),
    "SimpleRNN": same_class(L.SimpleRNN, SIMPLE_RNN),
    "GRU": same_class(L.GRU, GRU),
    "LSTM": same_class(L.LSTM, LSTM),
    "Add": same_class(L.Add, MERGE),
    "Subtract": same_class(L.Subtract, MERGE),
    "Multiply": same_class(L.Multiply, MERGE),
    "Average": same_class(L.Average, MERGE),
    "Maximum": same_class(L.Maximum, MERGE),
    "Minimum": same_class(L.Minimum, MERGE),
    "Concatenate": same_class(L.Concatenate, CONCATENATE),
    "Dot": same_class(L.Dot, DOT),
    "BatchNormalization": same_class(L.BatchNormalization, BATCH_NORMALIZATION),
    "Rescaling": convert_rescaling,
    "RepeatVector": same_class(L.RepeatVector, REPEAT_VECTOR),
    "ReLU": same_class(L.ReLU, RELU),
    "LeakyReLU": same_class(L.LeakyReLU, LEAKY_RELU),
    "ELU": same_class(L.ELU, ELU),
    "Softmax": same_class(L.Softmax, SOFTMAX),
    "PReLU": same_class(L.PReLU, PRELU),
    "LayerNormalization": same_class(L.LayerNormalization, LAYER_NORMALIZATION),
    "GroupNormalization": same_class(L.GroupNormalization, GROUP_NORMALIZATION),
    "UnitNormalization": same_class(L.UnitNormalization, UNIT_NORMALIZATION),
    "Normalization": same_class(L.Normalization, NORMALIZATION),
    "Permute": same_class(L.Permute, PERMUTE),
    "ZeroPadding1D": same_class(L.ZeroPadding1D, ZERO_PADDING),
    "ZeroPadding2D": same_class(L.ZeroPadding2D, ZERO_PADDING),
    "Cropping1D": same_class(L.Cropping1D, CROPPING_1D),
    "Cropping2D": same_class(L.Cropping2D, CROPPING_2D),
    "UpSampling1D": same_class(L.UpSampling1D, UP_SAMPLING_1D),
    "UpSampling2D": same_class(L.UpSampling2D, UP_SAMPLING_2D),
    "Masking": same_class(L.Masking, MASKING),
    "Bidirectional": convert_bidirectional,
    "TimeDistributed": convert_time_distributed,
    "SpatialDropout1D": as_dropout(SPATIAL_DROPOUT),
    "SpatialDropout2D": as_dropout(SPATIAL_DROPOUT),
    "GaussianNoise": as_dropout(GAUSSIAN_NOISE),
    "GaussianDropout": as_dropout(GAUSSIAN_DROPOUT),
    "AlphaDropout": as_dropout(ALPHA_DROPOUT),
    **{name: as_identity for name in AUGMENTATION},
    "RandomCrop": refuse_random_crop,
}


def normalization_weights(klayer: Any, layer: Layer) -> list[np.ndarray]:
    """Keras's Normalization keeps its statistics (given or adapted) as
    `mean` and `variance` broadcastable over a batch; layerc's weights are
    them spread over one sample."""
    shapes = [w.shape for w in layer.get_weights()]
    return [np.broadcast_to(np.asarray(stat, np.float32)[0], shape).copy()
            for stat, shape in zip((klayer.mean, klayer.variance), shapes)]


# Keras layers whose weights layerc takes in another form than get_weights().
WEIGHTS: dict[str, Callable[[Any, Layer], list[np.ndarray]]] = {
    "Normalization": normalization_weights}


SUPPORTED = "the README's 'Importing Keras models' lists the classes layerc converts"


def convertible(klayer: Any) -> bool:
    """Whether the importer has a converter for a Keras layer's class (and
    for the layers a wrapper holds)."""
    cls = type(klayer)
    inner = [getattr(klayer, a) for a in ("layer", "forward_layer", "backward_layer")
             if cls.__name__ in ("Bidirectional", "TimeDistributed") and hasattr(klayer, a)]
    return cls.__name__ in CONVERTERS and cls.__module__.startswith("keras.") and all(
        convertible(k) for k in inner)


def refuse_unconvertible(klayers: list[Any], model: str) -> None:
    """One ConfigError naming every Keras class of `klayers` layerc lacks,
    with its count and first layer, rather than one refusal per run."""
    missing: dict[str, list[str]] = {}
    for klayer in klayers:
        if not convertible(klayer):
            missing.setdefault(type(klayer).__name__, []).append(klayer.name)
    if missing:
        found = "; ".join(f"{cls} x{len(names)} (first: {names[0]!r})"
                          for cls, names in sorted(missing.items()))
        raise ConfigError(f"from_keras: model {model!r}: layerc has no such layer for these "
                          f"Keras classes: {found}; {SUPPORTED}")


def convert_layer(klayer: Any) -> Layer:
    """The unbuilt layerc twin of a Keras layer (weights come after its calls)."""
    if not convertible(klayer):
        raise ConfigError(f"from_keras: {label(klayer)}: layerc has no such layer; {SUPPORTED}")
    return CONVERTERS[type(klayer).__name__](klayer)
