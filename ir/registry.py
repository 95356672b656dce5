"""The per-op rule table: attrs class, type inference, weight shapes, NumPy reference.

A new op kind is one file in `ir/ops/` that calls `register`; nothing else in
the IR switches on op kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from layerc.ir.opkind import OpKind
from layerc.ir.types import TensorType

InferFn = Callable[[Any, tuple[TensorType, ...]], tuple[TensorType, ...]]
WeightsFn = Callable[[Any, tuple[TensorType, ...]], tuple[tuple[int, ...], ...]]
ReferenceFn = Callable[[Any, list[np.ndarray], list[np.ndarray]], list[np.ndarray]]


def _no_weights(attrs: Any, in_types: tuple[TensorType, ...]) -> tuple[tuple[int, ...], ...]:
    return ()


@dataclass(frozen=True)
class OpRule:
    """Everything the IR knows about one op kind."""

    kind: OpKind
    attrs: type
    infer: InferFn
    reference: ReferenceFn
    weight_shapes: WeightsFn = _no_weights
    arity: tuple[int, int | None] = (1, 1)  # min and max number of inputs
    # Ops whose output may share its input's memory (no data movement).
    is_view: bool = False


RULES: dict[OpKind, OpRule] = {}


def register(rule: OpRule) -> OpRule:
    if rule.kind in RULES:
        raise ValueError(f"op kind {rule.kind} registered twice")
    RULES[rule.kind] = rule
    return rule


def rule_for(kind: OpKind) -> OpRule:
    _load_ops()
    return RULES[kind]


def _load_ops() -> None:
    # The op files register themselves on import; import them once, lazily,
    # so that `registry` itself has no import cycle with them.
    if not RULES:
        import layerc.ir.ops  # noqa: F401
