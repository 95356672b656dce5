"""Activation functions by their Keras 3 names, as NumPy reference definitions.

This table is the semantics every backend is tested against.  Element-wise
activations map an array to an array; `softmax` and `log_softmax` work on the
last axis.  Inputs are computed in float64 and the caller casts back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# The activations' constants, which the backends' kernels take from here.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
LEAKY_SLOPE = 0.2  # Keras 3's leaky_relu activation
INV_SQRT2 = 0.7071067811865476  # 1 / sqrt(2), for gelu in float32 kernels
SHRINK = 0.5  # hard_shrink's and soft_shrink's default threshold
SQUAREPLUS_B = 4.0  # squareplus's default b


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # imported on first use: scipy.special costs 0.2 s

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(x, 0.0)


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def _hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def _sparsemax(x: np.ndarray) -> np.ndarray:
    """Keras 3.15's sparsemax over the last axis, as every Keras backend
    computes it: max(x - tau, 0) with tau = (sum over the support of the
    sorted row's running sums - 1) / (the support's size), the support the
    k with 1 + k * z_k > z_1 + ... + z_k. (Martins and Astudillo's tau takes
    the running sum at the support's end instead; layerc follows Keras.)"""
    z = -np.sort(-x, axis=-1)
    k = np.arange(1, x.shape[-1] + 1)
    cumsum = np.cumsum(z, axis=-1)
    support = 1.0 + k * z > cumsum
    size = np.sum(support, axis=-1, keepdims=True)
    tau = (np.sum(np.where(support, cumsum, 0.0), axis=-1, keepdims=True) - 1.0) / size
    return np.maximum(x - tau, 0.0)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.minimum(np.maximum(x, 0.0), 6.0),
    "leaky_relu": lambda x: np.where(x >= 0, x, LEAKY_SLOPE * x),
    "elu": _elu,
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    "gelu": _gelu,
    "sigmoid": _sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "tanh": np.tanh,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "softplus": _softplus,
    "softsign": lambda x: x / (np.abs(x) + 1.0),
    "silu": lambda x: x * _sigmoid(x),
    "hard_silu": lambda x: x * _hard_sigmoid(x),
    "exponential": np.exp,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    # Keras 3's later additions (their default parameters, as the names give them)
    "celu": _elu,  # alpha 1
    "hard_tanh": lambda x: np.clip(x, -1.0, 1.0),
    # written so that NaN stays NaN, as in every kernel
    "hard_shrink": lambda x: np.where(np.abs(x) <= SHRINK, 0.0, x),
    "soft_shrink": lambda x: np.where(np.abs(x) <= SHRINK, 0.0, x - SHRINK * np.sign(x)),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "log_sigmoid": lambda x: -_softplus(-x),
    "sparse_plus": lambda x: np.where(x <= -1.0, 0.0, np.where(x < 1.0, 0.25 * (x + 1.0) ** 2,
                                                               x)),
    "sparse_sigmoid": lambda x: np.clip(0.5 * (x + 1.0), 0.0, 1.0),
    "squareplus": lambda x: 0.5 * (x + np.sqrt(x * x + SQUAREPLUS_B)),
    "sparsemax": _sparsemax,
}

# Other names Keras accepts for the same functions.
ALIASES = {"swish": "silu", "hard_swish": "hard_silu", None: "linear"}

# Activations that need a whole row (the last axis) rather than one element.
ROW_WISE = frozenset({"softmax", "log_softmax", "sparsemax"})

# Keras activation names that are no activation here: threshold has no
# default for its arguments (Keras cannot call it by name either). glu, which
# halves the last axis, is an op of its own (ir/ops/activation.py).
NOT_ELEMENT_WISE = {"threshold": "needs its threshold and default_value arguments, which a "
                    "name cannot give"}


def canonical(name: str | None) -> str | None:
    """The canonical name of an activation, or None if layerc lacks it."""
    name = ALIASES.get(name, name)
    return name if name in ACTIVATIONS else None


def apply(name: str, x: np.ndarray) -> np.ndarray:
    """Applies an activation in float64 and returns float32."""
    return ACTIVATIONS[name](x.astype(np.float64)).astype(np.float32)
