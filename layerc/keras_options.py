"""The option tables of the Keras 3 layer classes `from_keras` converts,
one per class (the converters are in keras_layers.py).

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from layerc.ir import activations as ir_activations



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
    "seed": DROP, "sliding_window": PASS, "use_gate": PASS}
GROUPED_QUERY_ATTENTION = {
    **BASE, **KERNEL_TRAINING, "head_dim": PASS, "num_query_heads": PASS,
    "num_key_value_heads": PASS, "dropout": PASS, "use_bias": PASS, "seed": DROP,
    "sliding_window": PASS, "use_gate": PASS}
EINSUM_DENSE = {**BASE, **KERNEL_TRAINING, **NO_LORA, "equation": PASS,
                "output_shape": PASS, "activation": ACTIVATION, "bias_axes": PASS}
ATTENTION = {**BASE, "use_scale": PASS, "score_mode": PASS, "dropout": PASS, "seed": DROP}
ADDITIVE_ATTENTION = {**BASE, "use_scale": PASS, "dropout": PASS, "seed": DROP}
RMS_NORMALIZATION = {**BASE, "axis": PASS, "epsilon": PASS}
CONV_LSTM = {
    **BASE, "filters": PASS, "kernel_size": PASS, "strides": PASS, "padding": PASS,
    "data_format": PASS, "dilation_rate": PASS, "activation": ACTIVATION,
    "recurrent_activation": ACTIVATION, "use_bias": PASS, "return_sequences": PASS,
    "return_state": PASS, "go_backwards": PASS, "stateful": only(False), "unroll": DROP,
    "zero_output_for_mask": DROP,  # masks are refused, so it never applies
    **{key: DROP for key in (
        "kernel_initializer", "recurrent_initializer", "bias_initializer", "unit_forget_bias",
        "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
        "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
        "recurrent_dropout", "seed")}}
RESIZING = {**BASE, "height": PASS, "width": PASS, "interpolation": PASS,
            "crop_to_aspect_ratio": PASS, "pad_to_aspect_ratio": PASS, "fill_mode": PASS,
            "fill_value": PASS, "antialias": PASS, "data_format": PASS}
CENTER_CROP = {**BASE, "height": PASS, "width": PASS, "data_format": PASS}
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
UP_SAMPLING_3D = {**BASE, "size": PASS, "data_format": PASS}
MASKING = {**BASE, "mask_value": PASS}
# The wrapped layers are read from the wrapper (convert_bidirectional, ...).
BIDIRECTIONAL = {**BASE, "layer": DROP, "merge_mode": PASS, "backward_layer": DROP}
TIME_DISTRIBUTED = {**BASE, "layer": DROP}


# ----- Keras noise and dropout layers: the identity at inference, a layerc Dropout -----
SPATIAL_DROPOUT = {**BASE, "rate": DROP, "seed": DROP, "data_format": DROP}
GAUSSIAN_NOISE = {**BASE, "stddev": DROP, "seed": DROP}
GAUSSIAN_DROPOUT = {**BASE, "rate": DROP, "seed": DROP}
ALPHA_DROPOUT = {**BASE, "rate": DROP, "seed": DROP, "noise_shape": DROP}
