"""Luong's and Bahdanau's attention, Keras's Attention and AdditiveAttention:
on [query, value] or [query, value, key], (batch, steps, dim) each, one
fused attention op (ir/ops/attention.py) of one head, without projections.
Masks as Keras 3.15 applies them for these two: a masked value step's score
lowered by 1e9 in float32, a masked query's output zero (the op's `masking`
"subtract" and `query_mask` "output")."""

from __future__ import annotations

from typing import Any

from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.attention import AttentionAttrs
from layerc.ir.ops.core import ReshapeAttrs
from layerc.layers.attention import CallOptions, dropout_rate, sequence
from layerc.layers.base import Builder, Layer, SymbolicTensor


class Attention(CallOptions, Layer):
    """`Attention(use_scale=False, score_mode="dot", dropout=0.0, seed=None)`
    (Luong): called on [query, value] or [query, value, key], (batch, steps,
    dim) each, with return_attention_scores and use_causal_mask. Scores are
    q . k (times the learned `scale`), or with score_mode="concat"
    concat_score_weight * sum(tanh(scale * (q + k))); a masked value step's
    score is lowered by 1e9, a masked query's output is zero (and is the
    output's mask)."""

    multi_input = True

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ConfigError(f"{self.label()}: score_mode must be 'dot' or 'concat', got "
                              f"{score_mode!r}")
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout, self.seed = dropout_rate(self, dropout), seed
        self._options: dict[str, Any] = {}

    def __call__(self, inputs: Any, mask: Any = None, training: Any = None,  # type: ignore
                 return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        if mask is not None:
            raise ConfigError(f"{self.label()}: mask as an argument is not supported; layerc "
                              f"reads the inputs' Keras masks")
        if training:
            raise ConfigError(f"{self.label()}: training=True is not supported (inference)")
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ShapeError(f"{self.label()}: call it on [query, value] or [query, value, "
                             f"key], got {inputs!r}")
        self._agree({"use_causal_mask": bool(use_causal_mask),
                     "return_attention_scores": bool(return_attention_scores)}, "")
        return super().__call__(list(inputs))

    def consumed_masks(self, xs: list[SymbolicTensor]) -> list[SymbolicTensor]:
        return list({id(x.mask): x.mask for x in xs[:2] if x.mask is not None}.values())

    def output_mask(self, xs: list[SymbolicTensor], index: int) -> SymbolicTensor | None:
        return xs[0].mask if index == 0 else None

    def _dims(self, in_types: tuple[TensorType, ...]) -> tuple[int, int, int, int]:
        """(Tq, Tk, dim, value dim)."""
        tq, d = sequence(self, "query", in_types[0])
        tk, dv = sequence(self, "value", in_types[1])
        key = in_types[2] if len(in_types) > 2 else in_types[1]
        if sequence(self, "key", key) != (tk, d):
            raise ShapeError(f"{self.label()}: the key {key} must have the value's steps and "
                             f"the query's features ({tk}, {d})")
        return tq, tk, d, dv

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        self._dims(in_types)
        if self.use_scale:
            self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones")

    def _attrs(self, masks: tuple[str, ...]) -> AttentionAttrs:
        return AttentionAttrs(score="tanh" if self.score_mode == "concat" else "dot",
                              scale_weight=self.use_scale,
                              tanh_weight="scalar" if self.score_mode == "concat" else "",
                              masks=masks, causal=self._options["use_causal_mask"],
                              masking="subtract", query_mask="output",
                              scores=self._options["return_attention_scores"])

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        types = tuple(b.graph.type_of(p) for p in inputs)
        tq, tk, d, dv = self._dims(types)
        key = inputs[2] if len(inputs) > 2 else inputs[1]

        def one_head(x: Port, steps: int, dim: int, name: str) -> Port:
            return b.add(OpKind.RESHAPE, [x], ReshapeAttrs((steps, 1, dim)), helper=name)

        masks = [(name, m) for name, m in zip(("query", "value"), b.input_masks)
                 if m is not None]
        att = b.add(OpKind.ATTENTION, [one_head(inputs[0], tq, d, "query"),
                                       one_head(key, tk, d, "key"),
                                       one_head(inputs[1], tk, dv, "value"),
                                       *(m for _, m in masks)],
                    self._attrs(tuple(n for n, _ in masks)), tuple(self._weights))
        out = b.add(OpKind.RESHAPE, [att], ReshapeAttrs((tq, dv)), helper="output")
        if not self._options["return_attention_scores"]:
            return [out]
        return [out, b.add(OpKind.RESHAPE, [Port(att.node, 1)], ReshapeAttrs((tq, tk)),
                           helper="scores")]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """`AdditiveAttention(use_scale=True, dropout=0.0)` (Bahdanau): scores
    sum(scale * tanh(q + k)), `scale` a learned vector of the features;
    called and masked as Attention."""

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        d = self._dims(in_types)[2]
        if self.use_scale:
            self.add_weight("scale", (d,), "glorot_uniform")

    def _attrs(self, masks: tuple[str, ...]) -> AttentionAttrs:
        return AttentionAttrs(score="tanh", tanh_weight="vector" if self.use_scale else "",
                              masks=masks, causal=self._options["use_causal_mask"],
                              masking="subtract", query_mask="output",
                              scores=self._options["return_attention_scores"])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["score_mode"]
        return config


__all__ = ["AdditiveAttention", "Attention"]
