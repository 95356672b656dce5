"""Multi-head attention layers: MultiHeadAttention and GroupedQueryAttention,
on (batch, steps, features) inputs, attending over the steps (Attention and
AdditiveAttention, one head without projections: dot_attention.py).

Each becomes its projections (Dense ops: Keras's EinsumDense kernels
(features, heads, dim) are in memory the Dense kernels (features, heads *
dim) layerc runs) around one fused attention op (ir/ops/attention.py):
scores, masks, softmax and the weighted values in one kernel. Masks are
Keras 3.15's: the inputs' Keras masks (query, value and key), an explicit
attention_mask (batch, Tq, Tk), use_causal_mask and the sliding window,
combined by AND; Keras's two ways of applying them (MultiHeadAttention's
masked softmax, Attention's scores lowered by 1e9) are the op's `masking`.
get_weights and set_weights show Keras's shapes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from layerc import initializers
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.attention import AttentionAttrs
from layerc.ir.ops.core import DenseAttrs, ReshapeAttrs
from layerc.ir.ops.merge import MergeAttrs
from layerc.layers.base import Builder, Layer, SymbolicTensor
from layerc.layers.core import positive_int


def dropout_rate(layer: Layer, dropout: Any) -> float:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or \
            not 0 <= dropout <= 1:
        raise ConfigError(f"{layer.label()}: dropout must be in [0, 1], got {dropout!r}")
    return float(dropout)  # the identity at inference


def sequence(layer: Layer, name: str, t: TensorType, flat: bool = False) -> tuple[int, int]:
    """(steps, features) of a (batch, steps, features) input; with `flat`,
    of (batch, *positions, features) too, its positions one axis of steps."""
    if (t.rank != 3 and not (flat and t.rank > 3)) or None in t.shape[1:]:
        raise ShapeError(f"{layer.label()}: the {name} must be (batch, steps, features)"
                         f"{' or (batch, *positions, features)' if flat else ''} with known "
                         f"sizes, got {t}")
    return math.prod(t.shape[1:-1]), t.shape[-1]  # type: ignore[arg-type,return-value]


class CallOptions:
    """The call options every call of an attention layer must agree on (a
    layer's calls share one emit, which reads them from the layer)."""

    def _agree(self: Any, options: dict[str, Any], source: str) -> None:
        if self._nodes and options != self._options:
            raise ConfigError(f"{self.label(source)}: every call must agree on "
                              f"{', '.join(sorted(options))}; the first was {self._options}, "
                              f"this one {options}")
        self._options = options


class _HeadsAttention(CallOptions, Layer, register=False):
    """Projected multi-head attention (MultiHeadAttention and
    GroupedQueryAttention): query, key and value projections into `heads`
    and `kv_heads` heads, the fused attention, an optional sigmoid gate on
    the heads' output, and the output projection."""

    multi_input = True
    heads: int
    kv_heads: int
    key_dim: int
    value_dim: int
    output_dim: int | None
    output_name = "output"  # Keras's name of the output projection
    # Inputs of higher rank attend over all their middle axes (positions).
    flattens = False

    def _common(self, dropout: Any, use_bias: Any, sliding_window: Any, use_gate: Any,
                kernel_initializer: Any, bias_initializer: Any, training_only: dict[str, Any],
                seed: Any) -> None:
        label = self.label()
        self.dropout, self.seed = dropout_rate(self, dropout), seed
        self.use_bias, self.use_gate = bool(use_bias), bool(use_gate)
        if sliding_window is not None:
            sliding_window = positive_int(self, "sliding_window", sliding_window)
        self.sliding_window = sliding_window
        self.kernel_initializer = initializers.get(kernel_initializer, label)
        self.bias_initializer = initializers.get(bias_initializer, label)
        self.training_only = training_only
        self._options: dict[str, Any] = {}

    # ----- calls: (query, value, key) -----
    def __call__(self, query: Any, value: Any = None, key: Any = None,  # type: ignore[override]
                 query_mask: Any = None, value_mask: Any = None, key_mask: Any = None,
                 attention_mask: Any = None, return_attention_scores: bool = False,
                 training: Any = None, use_causal_mask: bool = False) -> Any:
        label = self.label()
        if value is None:
            raise ShapeError(f"{label}: call it as layer(query, value, key=None)")
        for option, given in (("query_mask", query_mask), ("value_mask", value_mask),
                              ("key_mask", key_mask)):
            if given is not None:
                raise ConfigError(f"{label}: {option} as an argument is not supported; layerc "
                                  f"reads the inputs' Keras masks (Embedding(mask_zero=True), "
                                  f"Masking)")
        if training:
            raise ConfigError(f"{label}: training=True is not supported (inference)")
        if attention_mask is not None and not isinstance(attention_mask, SymbolicTensor):
            raise ConfigError(f"{label}: attention_mask must be a symbolic tensor (batch, "
                              f"query steps, value steps), got {type(attention_mask).__name__}")
        self._agree({"key": key is not None and key is not value,
                     "attention_mask": attention_mask is not None,
                     "use_causal_mask": bool(use_causal_mask),
                     "return_attention_scores": bool(return_attention_scores)}, "")
        xs = [query, value] + ([key] if self._options["key"] else []) + \
            ([attention_mask] if attention_mask is not None else [])
        self._check_positions([x for x in xs[:3 if self._options["key"] else 2]
                               if isinstance(x, SymbolicTensor)])
        return super().__call__(xs)

    def _check_positions(self, xs: list[SymbolicTensor]) -> None:
        """Inputs of rank > 3 (MultiHeadAttention only) attend over all their
        positions, with no causal mask, window or input masks."""
        axes = getattr(self, "attention_axes", None)
        for x in xs:
            rank = x.type.rank
            if axes is not None and sorted(a % rank for a in axes) != list(range(1, rank - 1)):
                raise ConfigError(f"{self.label()}: attention_axes={axes} on {x.type}: layerc "
                                  f"attends over all the axes between the batch and the "
                                  f"features")
        if any(x.type.rank > 3 for x in xs) and (
                self._options["use_causal_mask"] or self.sliding_window
                or any(x.mask is not None for x in xs)):
            raise ConfigError(f"{self.label()}: a causal mask, a sliding window or input masks "
                              f"need (batch, steps, features) inputs")

    def consumed_masks(self, xs: list[SymbolicTensor]) -> list[SymbolicTensor]:
        sequences = xs[:3] if self._options["key"] else xs[:2]
        return list({id(x.mask): x.mask for x in sequences if x.mask is not None}.values())

    def output_mask(self, xs: list[SymbolicTensor], index: int) -> SymbolicTensor | None:
        return xs[0].mask if index == 0 else None  # the output keeps the query's mask

    # ----- weights -----
    def _parts(self) -> tuple[str, ...]:
        return ("query", "key") + (("gate",) if self.use_gate else ()) + \
            ("value", self.output_name)

    def _units(self, in_types: tuple[TensorType, ...]) -> dict[str, tuple[int, int]]:
        """(input features, projected units) of each projection."""
        q = sequence(self, "query", in_types[0], self.flattens)[1]
        v = sequence(self, "value", in_types[1], self.flattens)[1]
        k = sequence(self, "key", in_types[2], self.flattens)[1] if self._options["key"] else v
        h, kv = self.heads, self.kv_heads
        return {"query": (q, h * self.key_dim), "key": (k, kv * self.key_dim),
                "gate": (q, h * self.value_dim), "value": (v, kv * self.value_dim),
                self.output_name: (h * self.value_dim, self.output_dim or q)}

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        units = self._units(in_types)
        for part in self._parts():
            self.add_weight(f"{part}_kernel", units[part], self.kernel_initializer)
            if self.use_bias:
                self.add_weight(f"{part}_bias", (units[part][1],), self.bias_initializer)

    def _keras_shapes(self) -> list[tuple[int, ...]]:
        """Keras's shapes of the weights, in their order."""
        shapes: list[tuple[int, ...]] = []
        for part in self._parts():
            features, units = self._weights[f"{part}_kernel"].shape
            if part == self.output_name:
                shapes += [(self.heads, self.value_dim, units)] + [(units,)] * self.use_bias
                continue
            heads = self.kv_heads if part in ("key", "value") else self.heads
            dim = self.key_dim if part in ("query", "key") else self.value_dim
            shapes += [(features, heads, dim)] + [(heads, dim)] * self.use_bias
        return shapes

    def get_weights(self) -> list[np.ndarray]:
        return [w.reshape(s) for w, s in zip(super().get_weights(), self._keras_shapes())]

    def set_weights(self, weights: Any) -> None:
        weights = list(weights)
        if self.built and [np.shape(w) for w in weights] == self._keras_shapes():
            weights = [np.reshape(w, v.shape) for w, v in zip(weights, self._weights.values())]
        super().set_weights(weights)

    # ----- IR -----
    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        types = tuple(b.graph.type_of(p) for p in inputs)
        self._units(types)
        has_key, has_mask = self._options["key"], self._options["attention_mask"]
        tq = sequence(self, "query", types[0], self.flattens)[0]
        tk = sequence(self, "value", types[1], self.flattens)[0]

        def flat(x: Port, t: TensorType, shape: tuple[int, ...], name: str) -> Port:
            """Positions of several axes as one axis of steps."""
            if t.rank == 1 + len(shape):
                return x
            return b.add(OpKind.RESHAPE, [x], ReshapeAttrs(shape), helper=f"{name}_steps")

        features = [sequence(self, "input", t, self.flattens)[1]
                    for t in types[:3 if has_key else 2]]
        query = flat(inputs[0], types[0], (tq, features[0]), "query")
        value = flat(inputs[1], types[1], (tk, features[1]), "value")
        key = flat(inputs[2], types[2], (tk, features[2]), "key") if has_key else value
        h, kv, kd, vd = self.heads, self.kv_heads, self.key_dim, self.value_dim

        def project(x: Port, part: str, units: int, activation: str = "linear") -> Port:
            weights = (f"{part}_kernel", f"{part}_bias") if self.use_bias else \
                (f"{part}_kernel",)
            helper = None if part == self.output_name else part
            return b.add(OpKind.DENSE, [x], DenseAttrs(units, self.use_bias, activation),
                         weights, helper=helper)

        def heads(x: Port, steps: Any, count: int, dim: int, part: str) -> Port:
            return b.add(OpKind.RESHAPE, [project(x, part, count * dim)],
                         ReshapeAttrs((steps, count, dim)), helper=f"{part}_heads")

        names = ("query", "value", "key")[:len(b.input_masks) - has_mask]
        masks = [(name, m) for name, m in zip(names, b.input_masks) if m is not None]
        order = {"query": 0, "value": 1, "key": 2}
        masks.sort(key=lambda item: order[item[0]])
        gate = project(query, "gate", h * vd, "sigmoid") if self.use_gate else None
        q, k = heads(query, tq, h, kd, "query"), heads(key, tk, kv, kd, "key")
        v = heads(value, tk, kv, vd, "value")
        # Keras runs its dot_product_attention (a row with nothing to attend
        # weighs every key equally) unless it returns the scores or has
        # dropout (its masked softmax: zeros).
        scores = self._options["return_attention_scores"]
        explicit = scores or self.dropout > 0
        attrs = AttentionAttrs(scale=1.0 / math.sqrt(kd), masks=tuple(n for n, _ in masks),
                               masking="zero" if explicit else "mean",
                               attention_mask=has_mask,
                               causal=self._options["use_causal_mask"],
                               window=self.sliding_window or 0, scores=scores)
        extra = [flat(inputs[-1], types[-1], (tq, tk), "mask")] if has_mask else []
        att = b.add(OpKind.ATTENTION, [q, k, v, *(m for _, m in masks)] + extra, attrs,
                    helper="attention")
        out = b.add(OpKind.RESHAPE, [att], ReshapeAttrs((tq, h * vd)), helper="merge")
        if gate is not None:
            out = b.add(OpKind.MULTIPLY, [out, gate], MergeAttrs(), helper="gated")
        out = project(out, self.output_name, self.output_dim or types[0].shape[-1])  # type: ignore
        if types[0].rank == 3 and types[1].rank == 3:
            return [out, Port(att.node, 1)] if scores else [out]
        positions_q = tuple(int(d) for d in types[0].shape[1:-1])  # type: ignore[arg-type]
        positions_k = tuple(int(d) for d in types[1].shape[1:-1])  # type: ignore[arg-type]
        units = int(b.graph.type_of(out).shape[-1])  # type: ignore[arg-type]
        out = b.add(OpKind.RESHAPE, [out], ReshapeAttrs((*positions_q, units)), helper="positions")
        if not scores:
            return [out]
        return [out, b.add(OpKind.RESHAPE, [Port(att.node, 1)],
                           ReshapeAttrs((h, *positions_q, *positions_k)), helper="scores")]

    def _config(self) -> dict[str, Any]:
        return {**super().get_config(), "dropout": self.dropout, "use_bias": self.use_bias,
                "sliding_window": self.sliding_window, "use_gate": self.use_gate,
                "seed": self.seed,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **self.training_only}


def _training_only(kernel_regularizer: Any, bias_regularizer: Any, activity_regularizer: Any,
                   kernel_constraint: Any, bias_constraint: Any) -> dict[str, Any]:
    return {"kernel_regularizer": kernel_regularizer, "bias_regularizer": bias_regularizer,
            "activity_regularizer": activity_regularizer,
            "kernel_constraint": kernel_constraint, "bias_constraint": bias_constraint}


class MultiHeadAttention(_HeadsAttention):
    """`MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0,
    use_bias=True, output_shape=None, attention_axes=None,
    sliding_window=None, use_gate=False, ...)`, called as
    `layer(query, value, key=None, attention_mask=None,
    return_attention_scores=False, use_causal_mask=False)` on (batch, steps,
    features) tensors, or on (batch, *positions, features) attending over
    all the positions (Keras's default attention_axes); attention over some
    of the middle axes only is refused."""

    flattens = True

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True, output_shape: Any = None,
                 attention_axes: Any = None, sliding_window: Any = None,
                 flash_attention: Any = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None,
                 use_gate: bool = False, seed: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        self.num_heads = self.heads = self.kv_heads = positive_int(self, "num_heads", num_heads)
        self.key_dim = positive_int(self, "key_dim", key_dim)
        self.value_dim = positive_int(self, "value_dim", key_dim if value_dim is None
                                      else value_dim)
        if output_shape is not None:
            shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
            if len(shape) != 1:
                raise ConfigError(f"{label}: output_shape {output_shape!r}: layerc supports "
                                  f"one output axis")
            output_shape = positive_int(self, "output_shape", shape[0])
        self.output_dim = output_shape
        self.attention_axes = None if attention_axes is None else \
            tuple(int(a) for a in np.atleast_1d(attention_axes))
        self.flash_attention = flash_attention  # an implementation choice: the same numbers
        self._common(dropout, use_bias, sliding_window, use_gate, kernel_initializer,
                     bias_initializer, _training_only(kernel_regularizer, bias_regularizer,
                                                      activity_regularizer, kernel_constraint,
                                                      bias_constraint), seed)

    def get_config(self) -> dict[str, Any]:
        return {**self._config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "output_shape": self.output_dim,
                "attention_axes": None if self.attention_axes in ((1,), (-2,))
                else self.attention_axes}


class GroupedQueryAttention(_HeadsAttention):
    """`GroupedQueryAttention(head_dim, num_query_heads, num_key_value_heads,
    dropout=0.0, use_bias=True, sliding_window=None, use_gate=False, ...)`
    (Keras's keras.layers.GroupQueryAttention): query head h attends with
    key/value head h // (num_query_heads / num_key_value_heads); called as
    MultiHeadAttention is; the output has the query's features."""

    output_name = "attention_output"

    def __init__(self, head_dim: int, num_query_heads: int, num_key_value_heads: int,
                 dropout: float = 0.0, use_bias: bool = True, sliding_window: Any = None,
                 flash_attention: Any = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None,
                 use_gate: bool = False, seed: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.head_dim = self.key_dim = self.value_dim = positive_int(self, "head_dim", head_dim)
        self.num_query_heads = self.heads = positive_int(self, "num_query_heads",
                                                         num_query_heads)
        self.num_key_value_heads = self.kv_heads = positive_int(self, "num_key_value_heads",
                                                                num_key_value_heads)
        if self.heads % self.kv_heads:
            raise ConfigError(f"{self.label()}: num_query_heads ({self.heads}) must be a "
                              f"multiple of num_key_value_heads ({self.kv_heads})")
        self.output_dim = None
        self.flash_attention = flash_attention  # not in Keras's config either
        self._common(dropout, use_bias, sliding_window, use_gate, kernel_initializer,
                     bias_initializer, _training_only(kernel_regularizer, bias_regularizer,
                                                      activity_regularizer, kernel_constraint,
                                                      bias_constraint), seed)

    def _units(self, in_types: tuple[TensorType, ...]) -> dict[str, tuple[int, int]]:
        units = super()._units(in_types)
        if units["query"][0] != units["value"][0]:
            raise ShapeError(f"{self.label()}: the query's features ({units['query'][0]}) "
                             f"must be the value's ({units['value'][0]}), as in Keras")
        return units

    def get_config(self) -> dict[str, Any]:
        return {**self._config(), "head_dim": self.head_dim,
                "num_query_heads": self.num_query_heads,
                "num_key_value_heads": self.num_key_value_heads}


GroupQueryAttention = GroupedQueryAttention  # Keras's public name


__all__ = ["GroupQueryAttention", "GroupedQueryAttention", "MultiHeadAttention"]
