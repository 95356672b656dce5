"""The Keras 3 layer classes `from_keras` converts: a converter per class,
each checking the Keras config against the class's option table
(keras_options.py) before building the layerc layer, and the hooks that read
weights Keras does not keep in get_weights' order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from layerc import layers as L
from layerc.errors import ConfigError
from layerc.keras_objects import class_name, image_data_format, is_keras_class, source_file
from layerc.keras_options import (ACTIVATION_LAYER, ADDITIVE_ATTENTION, ALPHA_DROPOUT, ATTENTION,
                                  BASE, BATCH_NORMALIZATION, BIDIRECTIONAL, CELL_TABLES,
                                  CENTER_CROP, CONCATENATE, CONV, CONV_LSTM, CONV_TRANSPOSE,
                                  CROPPING_1D, CROPPING_2D, DENSE, DEPTHWISE_CONV, DOT, DROP,
                                  DROPOUT, EINSUM_DENSE, ELU, EMBEDDING, FLATTEN, GAUSSIAN_DROPOUT,
                                  GAUSSIAN_NOISE, GLOBAL_POOL, GROUPED_QUERY_ATTENTION,
                                  GROUP_NORMALIZATION, GRU, INPUT, Key, LAYER_NORMALIZATION,
                                  LEAKY_RELU, LSTM, MASKING, MERGE, MULTI_HEAD_ATTENTION,
                                  NORMALIZATION, PERMUTE, POOL, PRELU, RECURRENT_TABLES, RELU,
                                  REPEAT_VECTOR, RESCALING, RESHAPE, RESIZING, RMS_NORMALIZATION,
                                  RNN_LAYER, SEPARABLE_CONV, SIMPLE_RNN, SOFTMAX, SPATIAL_DROPOUT,
                                  STACKED_CELLS, TIME_DISTRIBUTED, UNIT_NORMALIZATION,
                                  UP_SAMPLING_1D, UP_SAMPLING_2D, UP_SAMPLING_3D, ZERO_PADDING)
from layerc.layers.base import Layer


# ----- converters -----
def label(klayer: Any) -> str:
    """The Keras layer in an error, with the file it was read from if any."""
    source = source_file(klayer)
    where = f" in {source}" if source else ""
    return f"layer {klayer.name!r} (Keras {class_name(klayer)}){where}"


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

# The layers whose Keras call records training=True by default and that layerc
# runs anyway: the augmentation layers (the identity at inference, as Keras's
# predict runs them), Resizing and CenterCrop (the same output either way).
TRAINING_BY_DEFAULT = AUGMENTATION + ("Resizing", "CenterCrop")


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
        data_format = image_data_format(klayer)
        if data_format != "channels_last":
            raise ConfigError(f"from_keras: {label(klayer)}: a per-channel scale or offset "
                              f"under image_data_format {data_format!r} is not supported; "
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
        if class_name(inner) not in RECURRENT_TABLES:
            raise ConfigError(f"from_keras: {label(klayer)}: wraps {label(inner)}; layerc's "
                              f"Bidirectional wraps SimpleRNN, GRU or LSTM")
        table = RECURRENT_TABLES[class_name(inner)]
        directions.append(same_class(getattr(L, class_name(inner)), table)(inner))
    return build(klayer, L.Bidirectional, {**options, "layer": directions[0],
                                           "backward_layer": directions[1]})


def convert_rnn(klayer: Any) -> Layer:
    """Keras's RNN(cell): one cell becomes its layer (an LSTM for an
    LSTMCell), a StackedRNNCells layerc's RNN over the cells."""
    options = checked_options(klayer, RNN_LAYER)
    stacked = class_name(klayer.cell) == "StackedRNNCells"
    if stacked:
        checked_options(klayer.cell, STACKED_CELLS)
    cells = []
    for cell in klayer.cell.cells if stacked else [klayer.cell]:
        kind = class_name(cell)
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
    "Conv3D": same_class(L.Conv3D, CONV),
    "RNN": convert_rnn,
    "MultiHeadAttention": same_class(L.MultiHeadAttention, MULTI_HEAD_ATTENTION),
    "GroupedQueryAttention": same_class(L.GroupedQueryAttention, GROUPED_QUERY_ATTENTION),
    "Attention": same_class(L.Attention, ATTENTION),
    "EinsumDense": same_class(L.EinsumDense, EINSUM_DENSE),
    "Resizing": same_class(L.Resizing, RESIZING),
    "ConvLSTM1D": same_class(L.ConvLSTM1D, CONV_LSTM),
    "ConvLSTM2D": same_class(L.ConvLSTM2D, CONV_LSTM),
    "ConvLSTM3D": same_class(L.ConvLSTM3D, CONV_LSTM),
    "RMSNormalization": same_class(L.RMSNormalization, RMS_NORMALIZATION),
    "Identity": same_class(L.Identity, BASE),
    "CenterCrop": same_class(L.CenterCrop, CENTER_CROP),
    "AdditiveAttention": same_class(L.AdditiveAttention, ADDITIVE_ATTENTION),
    "Conv1DTranspose": same_class(L.Conv1DTranspose, CONV_TRANSPOSE),
    "Conv2DTranspose": same_class(L.Conv2DTranspose, CONV_TRANSPOSE),
    "Conv3DTranspose": same_class(L.Conv3DTranspose, CONV_TRANSPOSE),
    "DepthwiseConv1D": same_class(L.DepthwiseConv1D, DEPTHWISE_CONV),
    "DepthwiseConv2D": same_class(L.DepthwiseConv2D, DEPTHWISE_CONV),
    "SeparableConv1D": same_class(L.SeparableConv1D, SEPARABLE_CONV),
    "SeparableConv2D": same_class(L.SeparableConv2D, SEPARABLE_CONV),
    "MaxPooling1D": same_class(L.MaxPooling1D, POOL),
    "MaxPooling2D": same_class(L.MaxPooling2D, POOL),
    "AveragePooling1D": same_class(L.AveragePooling1D, POOL),
    "AveragePooling2D": same_class(L.AveragePooling2D, POOL),
    "MaxPooling3D": same_class(L.MaxPooling3D, POOL),
    "AveragePooling3D": same_class(L.AveragePooling3D, POOL),
    "GlobalMaxPooling1D": same_class(L.GlobalMaxPooling1D, GLOBAL_POOL),
    "GlobalMaxPooling2D": same_class(L.GlobalMaxPooling2D, GLOBAL_POOL),
    "GlobalAveragePooling1D": same_class(L.GlobalAveragePooling1D, GLOBAL_POOL),
    "GlobalAveragePooling2D": same_class(L.GlobalAveragePooling2D, GLOBAL_POOL),
    "GlobalMaxPooling3D": same_class(L.GlobalMaxPooling3D, GLOBAL_POOL),
    "GlobalAveragePooling3D": same_class(L.GlobalAveragePooling3D, GLOBAL_POOL),
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
    "ZeroPadding3D": same_class(L.ZeroPadding3D, ZERO_PADDING),
    "Cropping1D": same_class(L.Cropping1D, CROPPING_1D),
    "Cropping2D": same_class(L.Cropping2D, CROPPING_2D),
    "Cropping3D": same_class(L.Cropping3D, CROPPING_2D),
    "UpSampling1D": same_class(L.UpSampling1D, UP_SAMPLING_1D),
    "UpSampling2D": same_class(L.UpSampling2D, UP_SAMPLING_2D),
    "UpSampling3D": same_class(L.UpSampling3D, UP_SAMPLING_3D),
    "Masking": same_class(L.Masking, MASKING),
    "Bidirectional": convert_bidirectional,
    "TimeDistributed": convert_time_distributed,
    "SpatialDropout1D": as_dropout(SPATIAL_DROPOUT),
    "SpatialDropout2D": as_dropout(SPATIAL_DROPOUT),
    "SpatialDropout3D": as_dropout(SPATIAL_DROPOUT),
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
    name = class_name(klayer)
    inner = [getattr(klayer, a) for a in ("layer", "forward_layer", "backward_layer")
             if name in ("Bidirectional", "TimeDistributed") and hasattr(klayer, a)]
    return name in CONVERTERS and is_keras_class(klayer) and all(convertible(k) for k in inner)


def refuse_unconvertible(klayers: list[Any], kmodel: Any) -> None:
    """One ConfigError naming every Keras class of `klayers` layerc lacks,
    with its count and first layer, rather than one refusal per run."""
    missing: dict[str, list[str]] = {}
    for klayer in klayers:
        if not convertible(klayer):
            missing.setdefault(class_name(klayer), []).append(klayer.name)
    if missing:
        found = "; ".join(f"{cls} x{len(names)} (first: {names[0]!r})"
                          for cls, names in sorted(missing.items()))
        source = source_file(kmodel)
        model = f"{kmodel.name!r} in {source}" if source else repr(kmodel.name)
        raise ConfigError(f"from_keras: model {model}: layerc has no such layer for these "
                          f"Keras classes: {found}; {SUPPORTED}")


def convert_layer(klayer: Any) -> Layer:
    """The unbuilt layerc twin of a Keras layer (weights come after its calls)."""
    if not convertible(klayer):
        raise ConfigError(f"from_keras: {label(klayer)}: layerc has no such layer; {SUPPORTED}")
    return CONVERTERS[class_name(klayer)](klayer)
