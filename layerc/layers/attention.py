"""Attention layers: MultiHeadAttention.

Keras's MultiHeadAttention on (batch, steps, features) inputs, attention
over the steps: each head projects the query, key and value (EinsumDense
layers in Keras, whose kernels (features, heads, dim) are in memory the
Dense kernels (features, heads * dim) layerc runs), scales the query by
1 / sqrt(key_dim), takes the query-key dot products per head, a softmax over
the keys, the weighted sum of the values, and projects the heads back
(kernel (heads, value_dim, output) = (heads * value_dim, output)). In the
IR: Dense, Rescaling, Reshape and Transpose ops around two per-head matrix
products (the dot op with one group axis) and a softmax. get_weights and
set_weights show Keras's shapes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from layerc import initializers
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.core import ActivationAttrs, DenseAttrs, ReshapeAttrs, TransposeAttrs
from layerc.ir.ops.merge import DotAttrs
from layerc.ir.ops.normalization import RescaleAttrs
from layerc.layers.base import Builder, Layer, SymbolicTensor
from layerc.layers.core import positive_int

_PARTS = ("query", "key", "value", "output")


class MultiHeadAttention(Layer):
    """`MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0,
    use_bias=True, output_shape=None, attention_axes=None, ...)`, called as
    `layer(query, value, key=None, return_attention_scores=False)` on
    (batch, steps, features) tensors. Masks (attention_mask, use_causal_mask,
    masked inputs) and attention over other axes are refused."""

    multi_input = True

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True, output_shape: Any = None,
                 attention_axes: Any = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, seed: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        self.num_heads = positive_int(self, "num_heads", num_heads)
        self.key_dim = positive_int(self, "key_dim", key_dim)
        self.value_dim = positive_int(self, "value_dim", key_dim if value_dim is None
                                      else value_dim)
        self._value_dim_given = value_dim
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or \
                not 0 <= dropout <= 1:
            raise ConfigError(f"{label}: dropout must be in [0, 1], got {dropout!r}")
        self.dropout, self.seed = float(dropout), seed  # identity at inference
        self.use_bias = bool(use_bias)
        if output_shape is not None:
            shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
            if len(shape) != 1:
                raise ConfigError(f"{label}: output_shape {output_shape!r}: layerc supports "
                                  f"one output axis")
            output_shape = positive_int(self, "output_shape", shape[0])
        self.output_dim = output_shape
        if attention_axes is not None and tuple(np.atleast_1d(attention_axes)) not in (
                (1,), (-2,)):
            raise ConfigError(f"{label}: attention_axes={attention_axes!r} is not supported; "
                              f"layerc attends over the steps of (batch, steps, features)")
        self.kernel_initializer = initializers.get(kernel_initializer, label)
        self.bias_initializer = initializers.get(bias_initializer, label)
        self.training_only = {"kernel_regularizer": kernel_regularizer,
                              "bias_regularizer": bias_regularizer,
                              "activity_regularizer": activity_regularizer,
                              "kernel_constraint": kernel_constraint,
                              "bias_constraint": bias_constraint}
        self.return_attention_scores = False

    # ----- calls: (query, value, key) -----
    def __call__(self, query: Any, value: Any = None, key: Any = None,  # type: ignore[override]
                 return_attention_scores: bool = False, **kwargs: Any) -> Any:
        if value is None:
            raise ShapeError(f"{self.label()}: call it as layer(query, value, key=None)")
        for option in ("attention_mask", "query_mask", "value_mask", "key_mask"):
            if kwargs.pop(option, None) is not None:
                raise ConfigError(f"{self.label()}: {option} is not supported (layerc's "
                                  f"MultiHeadAttention takes no masks yet)")
        if kwargs.pop("use_causal_mask", False):
            raise ConfigError(f"{self.label()}: use_causal_mask=True is not supported yet")
        if kwargs.pop("training", None):
            raise ConfigError(f"{self.label()}: training=True is not supported (inference)")
        if self._nodes and bool(return_attention_scores) != self.return_attention_scores:
            raise ConfigError(f"{self.label()}: every call must agree on "
                              f"return_attention_scores")
        self.return_attention_scores = bool(return_attention_scores)
        xs = [query, value] + ([key] if key is not None else [])
        if any(isinstance(x, SymbolicTensor) and x.mask is not None for x in xs):
            raise ConfigError(f"{self.label()}: an input carries a mask, which layerc's "
                              f"MultiHeadAttention does not apply yet")
        return super().__call__(xs, **kwargs)

    def _sizes(self, in_types: tuple[TensorType, ...]) -> dict[str, tuple[Any, Any]]:
        """(input features, projected units) of each projection."""
        query, value = in_types[0], in_types[1]
        key = in_types[2] if len(in_types) > 2 else value
        for name, t in (("query", query), ("value", value), ("key", key)):
            if t.rank != 3 or t.shape[-1] is None:
                raise ShapeError(f"{self.label()}: {name} must be (batch, steps, features) "
                                 f"with known features, got {t}")
        if key.shape[1] != value.shape[1]:
            raise ShapeError(f"{self.label()}: key {key} and value {value} differ in steps")
        heads = self.num_heads
        out = self.output_dim or query.shape[-1]
        return {"query": (query.shape[-1], heads * self.key_dim),
                "key": (key.shape[-1], heads * self.key_dim),
                "value": (value.shape[-1], heads * self.value_dim),
                "output": (heads * self.value_dim, out)}

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        sizes = self._sizes(in_types)
        for part in _PARTS:
            features, units = sizes[part]
            self.add_weight(f"{part}_kernel", (features, units), self.kernel_initializer)
            if self.use_bias:
                self.add_weight(f"{part}_bias", (units,), self.bias_initializer)

    def _keras_shapes(self) -> list[tuple[int, ...]]:
        """Keras's shapes of the weights, in their order."""
        shapes: list[tuple[int, ...]] = []
        h = self.num_heads
        for part in _PARTS:
            features, units = self._weights[f"{part}_kernel"].shape
            if part == "output":
                shapes.append((h, self.value_dim, units))
                if self.use_bias:
                    shapes.append((units,))
            else:
                dim = self.value_dim if part == "value" else self.key_dim
                shapes.append((features, h, dim))
                if self.use_bias:
                    shapes.append((h, dim))
        return shapes

    def get_weights(self) -> list[np.ndarray]:
        return [w.reshape(s) for w, s in zip(super().get_weights(), self._keras_shapes())]

    def set_weights(self, weights: Any) -> None:
        weights = list(weights)
        if self.built and [np.shape(w) for w in weights] == self._keras_shapes():
            weights = [np.reshape(w, v.shape) for w, v in zip(weights, self._weights.values())]
        super().set_weights(weights)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        types = tuple(b.graph.type_of(p) for p in inputs)
        self._sizes(types)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        steps_q = types[0].shape[1]
        steps_k = types[1].shape[1]
        if steps_q is None or steps_k is None:
            raise ShapeError(f"{self.label(b.source)}: needs known steps, got {types[0]} and "
                             f"{types[1]}")

        def project(x: Port, part: str, units: int, helper: str | None) -> Port:
            weights = (f"{part}_kernel", f"{part}_bias") if self.use_bias else \
                (f"{part}_kernel",)
            return b.add(OpKind.DENSE, [x], DenseAttrs(units, self.use_bias), weights,
                         helper=helper)

        def heads(x: Port, steps: int, dim: int, perm: tuple[int, ...], name: str) -> Port:
            x = b.add(OpKind.RESHAPE, [x], ReshapeAttrs((steps, h, dim)), helper=f"{name}_heads")
            return b.add(OpKind.TRANSPOSE, [x], TransposeAttrs(perm), helper=f"{name}_t")

        q = project(query, "query", h * kd, "query")
        q = b.add(OpKind.RESCALE, [q], RescaleAttrs((1.0 / math.sqrt(kd),)), helper="scale")
        q = heads(q, steps_q, kd, (0, 2, 1, 3), "query")  # (h, steps_q, kd)
        k = heads(project(key, "key", h * kd, "key"), steps_k, kd, (0, 2, 3, 1), "key")
        v = heads(project(value, "value", h * vd, "value"), steps_k, vd, (0, 2, 1, 3), "value")
        scores = b.add(OpKind.DOT, [q, k], DotAttrs(groups=1), helper="scores")
        probs = b.add(OpKind.ACTIVATION, [scores], ActivationAttrs("softmax"), helper="softmax")
        att = b.add(OpKind.DOT, [probs, v], DotAttrs(groups=1), helper="attend")
        att = b.add(OpKind.TRANSPOSE, [att], TransposeAttrs((0, 2, 1, 3)), helper="merge_t")
        att = b.add(OpKind.RESHAPE, [att], ReshapeAttrs((steps_q, h * vd)), helper="merge")
        out = project(att, "output", self.output_dim or types[0].shape[-1], None)  # type: ignore
        return [out, probs] if self.return_attention_scores else [out]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self._value_dim_given, "dropout": self.dropout,
                "use_bias": self.use_bias, "output_shape": self.output_dim,
                "attention_axes": None, "seed": self.seed,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **self.training_only}


__all__ = ["MultiHeadAttention"]
