"""The rule of fused attention: scores, masks, softmax and the weighted sum
of the values in one op (Keras's MultiHeadAttention, GroupedQueryAttention,
Attention and AdditiveAttention after their projections).

Inputs: the query (batch, Tq, H, dk), the key (batch, Tk, Hk, dk) and the
value (batch, Tk, Hk, dv), H a multiple of Hk (query head h reads key/value
head h // (H / Hk): grouped-query attention), then the (batch, steps) 1/0
masks named in `masks`, then with `attention_mask` a (batch, Tq, Tk) tensor
(nonzero: may attend). Outputs: (batch, Tq, H, dv), and with `scores` the
probabilities (batch, H, Tq, Tk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.registry import OpRule, register
from layerc.ir.types import TensorType

MASKS = ("query", "value", "key")
# What Keras puts in place of a masked score (Softmax(mask) and Attention).
LARGE = np.float32(1e9)


@dataclass(frozen=True, slots=True)
class AttentionAttrs:
    # "dot": scale * s * (q . k); "tanh": sum over d of w_d * tanh(s * (q_d + k_d)),
    # s the learned scalar (weight "scale", with scale_weight) or 1, w the
    # learned vector or scalar (weight "tanh", as `tanh_weight` says) or 1.
    score: str = "dot"
    scale: float = 1.0  # a constant factor of dot scores (1 / sqrt(dk))
    scale_weight: bool = False
    tanh_weight: str = ""  # "", "scalar" (Attention's concat_score_weight) or "vector" (dk,)
    masks: tuple[str, ...] = ()  # the (batch, steps) masks after q, k, v, in MASKS order
    attention_mask: bool = False
    causal: bool = False  # query i attends keys j <= i
    window: int = 0  # query i attends keys |i - j| < window (0: all)
    # A masked score is left out, and a row with none left gives zeros
    # ("zero": Keras's Softmax(mask), MultiHeadAttention's path when it
    # returns the scores) or weighs every key equally ("mean": Keras's
    # dot_product_attention, its path otherwise); or "subtract": lowered by
    # 1e9 in float32, a row with none left keeping a softmax of the lowered
    # scores (Keras's Attention).
    masking: str = "zero"
    # "rows": a masked query's row is masked (MultiHeadAttention); "output":
    # its output is zeroed and its scores kept (Attention).
    query_mask: str = "rows"
    scores: bool = False  # a second output: the probabilities


def sizes(a: AttentionAttrs, ins: tuple[TensorType, ...]) -> tuple[int, int, int, int, int, int]:
    """(Tq, Tk, H, Hk, dk, dv), after checking the inputs."""
    if a.score not in ("dot", "tanh") or a.masking not in ("zero", "mean", "subtract") or \
            a.query_mask not in ("rows", "output") or a.tanh_weight not in ("", "scalar",
                                                                          "vector"):
        raise ShapeError(f"unknown attention options {a}")
    if tuple(m for m in MASKS if m in a.masks) != a.masks or a.window < 0:
        raise ShapeError(f"masks {a.masks} must be a subset of {MASKS} in that order, and "
                         f"window >= 0")
    expected = 3 + len(a.masks) + a.attention_mask
    if len(ins) != expected:
        raise ShapeError(f"expected query, key, value, {len(a.masks)} mask(s)"
                         f"{' and an attention mask' if a.attention_mask else ''}, "
                         f"got {len(ins)} inputs")
    q, k, v = ins[:3]
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.rank != 4 or None in t.shape[1:]:
            raise ShapeError(f"the {name} must be (batch, steps, heads, dim) with known "
                             f"sizes, got {t}")
    tq, h, dk = q.shape[1:]
    tk, hk, dv = v.shape[1], v.shape[2], v.shape[3]
    if k.shape[1:3] != (tk, hk) or k.shape[3] != dk:
        raise ShapeError(f"the key {k} must be (batch, {tk}, {hk}, {dk}) to match the query "
                         f"{q} and the value {v}")
    if h % hk:  # type: ignore[operator]
        raise ShapeError(f"the query's {h} heads must be a multiple of the key's {hk}")
    for name, t in zip(a.masks, ins[3:]):
        steps = tq if name == "query" else tk
        if t.shape != (None, steps):
            raise ShapeError(f"the {name} mask must be {TensorType((None, steps))}, got {t}")
    if a.attention_mask and ins[-1].shape != (None, tq, tk):
        raise ShapeError(f"the attention mask must be {TensorType((None, tq, tk))}, "
                         f"got {ins[-1]}")
    return tq, tk, h, hk, dk, dv  # type: ignore[return-value]


def _infer(a: AttentionAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    tq, tk, h, _, _, dv = sizes(a, ins)
    out = TensorType((None, tq, h, dv))
    return (out, TensorType((None, h, tq, tk))) if a.scores else (out,)


def _weights(a: AttentionAttrs, ins: tuple[TensorType, ...]) -> tuple[tuple[int, ...], ...]:
    dk = sizes(a, ins)[4]
    shapes: list[tuple[int, ...]] = [()] if a.scale_weight else []
    if a.tanh_weight:
        shapes.append(() if a.tanh_weight == "scalar" else (dk,))
    return tuple(shapes)


def allowed(a: AttentionAttrs, masks: list[np.ndarray], batch: int, tq: int,
            tk: int) -> np.ndarray:
    """(batch, Tq, Tk): where a query may attend a key (the query mask counts
    only in "rows" mode)."""
    ok = np.ones((batch, tq, tk), bool)
    for name, m in zip(a.masks, masks):
        if name != "query":
            ok &= m[:, None, :] != 0
        elif a.query_mask == "rows":
            ok &= m[:, :, None] != 0
    if a.attention_mask:
        ok &= masks[-1] != 0
    i, j = np.arange(tq)[:, None], np.arange(tk)[None, :]
    if a.causal:
        ok &= j <= i
    if a.window:
        ok &= np.abs(i - j) < a.window
    return ok


def _reference(a: AttentionAttrs, xs: list[np.ndarray], ws: list[np.ndarray]
               ) -> list[np.ndarray]:
    tq, tk, h, hk, dk, dv = sizes(a, tuple(TensorType((None, *x.shape[1:])) for x in xs))
    q, k, v = (x.astype(np.float64) for x in xs[:3])
    k, v = np.repeat(k, h // hk, axis=2), np.repeat(v, h // hk, axis=2)
    weights = iter(w.astype(np.float64) for w in ws)
    s = next(weights) if a.scale_weight else 1.0
    if a.score == "dot":
        scores = np.einsum("nqhd,nkhd->nhqk", q, k) * (a.scale * s)
    else:
        w = next(weights) if a.tanh_weight else 1.0
        terms = w * np.tanh(s * (q[:, :, None] + k[:, None]))  # (n, q, k, h, d)
        scores = terms.sum(-1).transpose(0, 3, 1, 2)
    ok = allowed(a, xs[3:], len(q), tq, tk)[:, None]  # (n, 1, q, k)
    if a.masking == "subtract":  # in float32, as Keras: the 1e9 swamps the score's digits
        lowered = (scores.astype(np.float32) - LARGE).astype(np.float64)
        scores = np.where(ok, scores, lowered)
    else:
        scores = np.where(ok, scores, -np.inf)
    top = scores.max(-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(top), top, 0.0))
    total = e.sum(-1, keepdims=True)
    empty = 1.0 / tk if a.masking == "mean" else 0.0  # a row with nothing to attend
    probs = np.divide(e, total, out=np.full_like(e, empty), where=~(total <= 0))  # NaN flows
    out = np.einsum("nhqk,nkhd->nqhd", probs, v)
    if "query" in a.masks and a.query_mask == "output":
        out *= (xs[3 + a.masks.index("query")] != 0)[:, :, None, None]
    outs = [out.astype(np.float32)]
    return outs + [probs.astype(np.float32)] if a.scores else outs


def _flops(a: AttentionAttrs, ins: tuple[TensorType, ...], outs: tuple[TensorType, ...]) -> int:
    tq, tk, h, _, dk, dv = sizes(a, ins)
    per_score = 2 * dk if a.score == "dot" else 4 * dk
    return h * tq * tk * (per_score + 2 * dv + 3)


register(OpRule(OpKind.ATTENTION, AttentionAttrs, _infer, _reference, _weights,
                arity=(3, 7), sums_products=True,
                mask_inputs=lambda a: tuple(range(3, 3 + len(a.masks))), flops=_flops))
