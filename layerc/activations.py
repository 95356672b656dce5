"""Activation functions by Keras 3 name.

Each public function computes on NumPy arrays (float32 in, float32 out) with
the reference definition the compiler is tested against; passing one of them,
or its name, as a layer's `activation` compiles to the fused kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from layerc.errors import ConfigError
from layerc.ir import activations as _ref


def _public(name: str) -> Callable[[Any], np.ndarray]:
    def fn(x: Any) -> np.ndarray:
        return _ref.apply(name, np.asarray(x, dtype=np.float32))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"The Keras `{name}` activation on a NumPy array."
    return fn


linear = _public("linear")
relu = _public("relu")
relu6 = _public("relu6")
leaky_relu = _public("leaky_relu")
elu = _public("elu")
selu = _public("selu")
gelu = _public("gelu")
sigmoid = _public("sigmoid")
hard_sigmoid = _public("hard_sigmoid")
tanh = _public("tanh")
softmax = _public("softmax")
log_softmax = _public("log_softmax")
softplus = _public("softplus")
softsign = _public("softsign")
silu = _public("silu")
swish = silu
hard_silu = _public("hard_silu")
hard_swish = hard_silu
exponential = _public("exponential")
mish = _public("mish")
celu = _public("celu")
hard_tanh = _public("hard_tanh")
hard_shrink = _public("hard_shrink")
soft_shrink = _public("soft_shrink")
tanh_shrink = _public("tanh_shrink")
log_sigmoid = _public("log_sigmoid")
sparse_plus = _public("sparse_plus")
sparse_sigmoid = _public("sparse_sigmoid")
squareplus = _public("squareplus")
sparsemax = _public("sparsemax")


def glu(x: Any) -> np.ndarray:
    """The Keras `glu` activation on a NumPy array: the first half of the
    last axis times the sigmoid of the second half."""
    x = np.asarray(x, dtype=np.float32)
    half = x.shape[-1] // 2
    return x[..., :half] * _ref.apply("sigmoid", x[..., half:])


# glu halves the last axis: a layer given it runs it as an op of its own.
NAMES = tuple(sorted([*_ref.ACTIVATIONS, "glu"]))


def get(identifier: Any, layer: str = "activation") -> str:
    """The canonical name of an activation given by name, by this module's
    function, or None (linear).  Anything else is a ConfigError."""
    if callable(identifier) and getattr(identifier, "__module__", None) == __name__:
        identifier = identifier.__name__
    if identifier is None or isinstance(identifier, str):
        name = _ref.canonical(identifier)
        if name is not None or identifier == "glu":
            return name or "glu"
        if identifier in _ref.NOT_ELEMENT_WISE:
            raise ConfigError(f"{layer}: activation {identifier!r} "
                              f"{_ref.NOT_ELEMENT_WISE[identifier]}; it cannot be named as a "
                              f"layer's activation")
        raise ConfigError(f"{layer}: unknown activation {identifier!r}; "
                          f"known: {', '.join(NAMES)}")
    raise ConfigError(f"{layer}: activation must be a name or a layerc.activations "
                      f"function (an arbitrary Python callable cannot be compiled), "
                      f"got {identifier!r}")

