"""Keras operations in a functional graph, for `from_keras`.

Keras 3 records `x + y`, `x * 2.0`, `keras.activations.relu(x)`,
`keras.ops.concatenate([a, b])`, `keras.ops.mean(x, axis=1)`, ... as
operation nodes between the layers. Those with a layerc equivalent become
that layer, named after the operation:

- `+ - *`, maximum and minimum of two tensors: the merge layers (so they
  broadcast as merges do); a tensor and a number (`x * 2.0`, `1.0 - x`,
  `x / 4`, `-x`): Rescaling (`x * scale + offset`);
- the activations (keras.ops.relu, sigmoid, ..., and keras.activations.*
  calls): Activation, or ReLU / LeakyReLU / ELU / Softmax with their options;
- concatenate: Concatenate; mean and max over the steps of a sequence or the
  positions of an image: the global poolings (keepdims too);
- reshape, expand_dims, squeeze (the batch axis kept): Reshape; transpose
  (the batch axis first): Permute.

Keras operations ignore masks and give none; so do these layers here: a mask
on the input is dropped, and an operation whose layerc layer would read the
mask (the global poolings, Multiply, Maximum and Minimum, Softmax) is refused
on a masked input. Anything else raises OpRefused with the reason, which
from_keras reports when a converted layer reads the operation's output.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from layerc.keras_objects import class_name, is_tensor
from layerc.layers import (ELU, Activation, Add, Concatenate, GlobalAveragePooling1D,
                           GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                           LeakyReLU, Maximum, Minimum, Multiply, Permute, ReLU, Rescaling,
                           Reshape, Softmax, Subtract)
from layerc.layers.base import Layer, SymbolicTensor


class OpRefused(Exception):
    """A Keras operation layerc has no layer for (the message says why)."""


TwinOf = Callable[[Any], SymbolicTensor | None]

_MERGES: dict[str, type[Layer]] = {"Add": Add, "Subtract": Subtract, "Multiply": Multiply,
                                   "Maximum": Maximum, "Minimum": Minimum}
# ops.<name> -> the layerc activation name (ops with no options)
_ACTIVATIONS = {"Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Tanh": "tanh",
                "Softplus": "softplus", "Softsign": "softsign", "Silu": "silu", "Selu": "selu",
                "HardSigmoid": "hard_sigmoid", "HardSilu": "hard_silu",
                "LogSigmoid": "log_sigmoid", "Exp": "exponential", "Mish": "mish",
                "HardTanh": "hard_tanh", "TanhShrink": "tanh_shrink",
                "SparsePlus": "sparse_plus", "SparseSigmoid": "sparse_sigmoid"}
# Merges whose values depend on their inputs' masks (see layers/merge.py).
_MASK_READERS = (Multiply, Maximum, Minimum)


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def convert_op(op: Any, args: list[Any], kwargs: dict[str, Any], out: Any,
               twin_of: TwinOf) -> tuple[Layer, Any]:
    """The layerc layer that computes Keras operation `op` on `args` (its
    output tensor is `out`), and what to call it on."""
    kind = class_name(op)
    if kwargs:
        raise OpRefused(f"called with keyword arguments {sorted(kwargs)}")
    tensors = [a for a in args if is_tensor(a)]
    name = op.name
    if kind in _MERGES and len(args) == 2:
        if len(tensors) == 2:
            return _MERGES[kind](name=name), [_twin(t, twin_of) for t in tensors]
        return _scalar(kind, args, name, twin_of)
    if kind in ("TrueDivide", "Divide") and len(args) == 2 and len(tensors) == 1 \
            and args[0] is tensors[0] and _number(args[1]) and args[1] != 0:
        return Rescaling(1.0 / float(args[1]), name=name), _twin(args[0], twin_of)
    if kind == "Negative" and len(tensors) == 1 == len(args):
        return Rescaling(-1.0, name=name), _twin(args[0], twin_of)
    if kind == "Concatenate" and len(args) == 1 and isinstance(args[0], (list, tuple)):
        return Concatenate(axis=op.axis, name=name), [_twin(t, twin_of) for t in args[0]]
    if len(args) != 1 or len(tensors) != 1:
        raise OpRefused("layerc converts it on one tensor only" if kind in _ONE_TENSOR
                        else "layerc has no layer for it")
    x = _twin(args[0], twin_of)
    return _unary(op, kind, x, out, name), x


_ONE_TENSOR = {"Relu", "Softmax", "LeakyRelu", "Elu", "Gelu", "ReLU", "Mean", "Max", "Reshape",
               "ExpandDims", "Squeeze", "Transpose", *_ACTIVATIONS}


def _twin(ktensor: Any, twin_of: TwinOf) -> SymbolicTensor:
    twin = twin_of(ktensor)
    if twin is None:
        raise OpRefused(f"its input {ktensor.name!r} comes from outside what layerc converts")
    return twin


def _scalar(kind: str, args: list[Any], name: str, twin_of: TwinOf) -> tuple[Layer, Any]:
    """A tensor and a number: x * scale + offset."""
    first = is_tensor(args[0])
    tensor, number = args if first else args[::-1]
    if not _number(number) or kind in ("Maximum", "Minimum"):
        raise OpRefused(f"layerc converts {kind.lower()} of two tensors, or +, -, * and / of "
                        f"a tensor and a number")
    c = float(number)
    scale, offset = {"Add": (1.0, c), "Multiply": (c, 0.0),
                     "Subtract": (1.0, -c) if first else (-1.0, c)}[kind]
    return Rescaling(scale, offset, name=name), _twin(tensor, twin_of)


def _unary(op: Any, kind: str, x: SymbolicTensor, out: Any, name: str) -> Layer:
    if kind in _ACTIVATIONS:
        return Activation(_ACTIVATIONS[kind], name=name)
    if kind == "Gelu":
        if op.approximate:
            raise OpRefused("gelu(approximate=True) is not an activation layerc has")
        return Activation("gelu", name=name)
    if kind == "Softmax":
        return Softmax(axis=op.axis, name=name)
    if kind == "LogSoftmax" and op.axis in (-1, x.type.rank - 1):
        return Activation("log_softmax", name=name)
    if kind == "LeakyRelu":
        return LeakyReLU(negative_slope=op.negative_slope, name=name)
    if kind == "Elu":
        return ELU(alpha=op.alpha, name=name)
    if kind == "ReLU":  # keras.activations.relu(x, negative_slope, max_value, threshold)
        return ReLU(max_value=op.max_value, negative_slope=op.negative_slope,
                    threshold=op.threshold, name=name)
    if kind in ("Mean", "Max"):
        return _global_pool(op, kind, x, name)
    if kind in ("Reshape", "ExpandDims", "Squeeze"):
        shape = tuple(out.shape[1:])
        if len(out.shape) == 0 or out.shape[0] is not None or None in shape:
            raise OpRefused(f"layerc reshapes samples to a known shape with the batch axis "
                            f"kept, the result here is {tuple(out.shape)}")
        return Reshape(shape, name=name)
    if kind == "Transpose":
        axes = list(op.axes) if op.axes is not None else list(range(x.type.rank))[::-1]
        if axes[0] != 0:
            raise OpRefused(f"axes {tuple(axes)} move the batch axis; layerc permutes the "
                            f"sample axes only")
        return Permute(tuple(axes[1:]), name=name)
    raise OpRefused("layerc has no layer for it")


def _global_pool(op: Any, kind: str, x: SymbolicTensor, name: str) -> Layer:
    """mean/max over the steps of (batch, steps, features) or the positions of
    (batch, h, w, channels): a global pooling."""
    axes = op.axis if isinstance(op.axis, (list, tuple)) else [op.axis]
    rank = x.type.rank
    axes = sorted(a % rank for a in axes if isinstance(a, int))
    pools = {(3, (1,)): (GlobalAveragePooling1D, GlobalMaxPooling1D),
             (4, (1, 2)): (GlobalAveragePooling2D, GlobalMaxPooling2D)}
    found = pools.get((rank, tuple(axes)))
    if found is None:
        raise OpRefused(f"layerc converts {kind.lower()} over axis 1 of a sequence or axes "
                        f"(1, 2) of an image (a global pooling), got axis={op.axis} on rank "
                        f"{rank}")
    return found[kind == "Max"](keepdims=bool(op.keepdims), name=name)


def reads_mask(layer: Layer) -> bool:
    """True when the layer's values would depend on a mask reaching it (a
    global average pooling or Softmax consumes one)."""
    return isinstance(layer, _MASK_READERS) or layer.mask_mode == "consume"
