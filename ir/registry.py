"""The op registry: everything the stages ask about an op kind, declared once.

A new op kind is one file in `ir/ops/` that calls `register` with its rule;
`ir/ops/__init__.py` imports every file there. Passes, codegen, the runtime
and `layerc.testing` ask a rule's traits (below) instead of keeping their own
lists of op kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import numpy as np

from layerc.ir.errors import IRError
from layerc.ir.opkind import OpKind
from layerc.ir.types import TensorType

InferFn = Callable[[Any, tuple[TensorType, ...]], tuple[TensorType, ...]]
WeightsFn = Callable[[Any, tuple[TensorType, ...]], tuple[tuple[int, ...], ...]]
ReferenceFn = Callable[[Any, list[np.ndarray], list[np.ndarray]], list[np.ndarray]]
# (attrs, input types, output types) -> floating-point operations per sample
FlopsFn = Callable[[Any, tuple[TensorType, ...], tuple[TensorType, ...]], int]
Shapes = tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True)
class Window:
    """The sliding window of a windowed op, one entry per spatial axis."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: str  # valid, same, causal or explicit
    pads: tuple[tuple[int, int], ...] | None = None  # with explicit padding


def _none(attrs: Any, *rest: Any) -> tuple:
    return ()


def _never(attrs: Any, producer: Any) -> bool:
    return False


def _no_flops(attrs: Any, ins: tuple[TensorType, ...], outs: tuple[TensorType, ...]) -> int:
    return 0


@dataclass(frozen=True)
class OpRule:
    """Everything layerc knows about one op kind: how to build and check it
    (attrs class, arity, `infer`, `weight_shapes`), what it computes
    (`reference`, the NumPy semantics every backend is tested against), and
    its traits."""

    kind: OpKind
    attrs: type
    infer: InferFn
    reference: ReferenceFn
    # The weights' shapes, in the order the node lists them; every layer
    # builds its weights from this.
    weight_shapes: WeightsFn = _none
    arity: tuple[int, int | None] = (1, 1)  # min and max number of inputs
    # ----- traits -----
    # The output shares its input's buffer (no data movement).
    is_view: bool = False
    # The output holds the input's values, only moved (reshapes, views,
    # transposes, the identity at inference): an index stays an index.
    rearranges: bool = False
    # The attrs have an `activation` the op's own kernel applies to its output
    # (fuse-activation may set it).
    epilogue: bool = False
    # The op sums products of its input values in float32 (a matrix product):
    # rounding of its inputs shows in its output.
    sums_products: bool = False
    # A windowed op's window (convolution, pooling, locally connected); an op
    # whose attrs have `pads` gets them from specialize-padding.
    window: Callable[[Any], Window] | None = None
    # Per-sample shapes of the states a stateful op keeps between calls (the
    # values live in the runtime; () for an op that keeps none).
    state_shapes: Callable[[Any], Shapes] = _none
    # Which inputs and outputs are (batch, steps) masks of 1/0 values.
    mask_inputs: Callable[[Any], tuple[int, ...]] = _none
    mask_outputs: Callable[[Any], tuple[int, ...]] = _none
    # The op reads integer indices on input 0, valid in [0, index_bound(attrs)).
    index_bound: Callable[[Any], int] | None = None
    # Whether a backend may run this op (its attrs) inside the step of the
    # op (the Node) whose output it alone reads (the CPU: a max pooling in
    # its convolution's step, a 1x1 convolution in its depthwise one's), so
    # plan-memory keeps that op's inputs alive through this one.
    runs_in_producer: Callable[[Any, Any], bool] = _never
    # The output axis (given the output's rank, batch axis included) whose
    # channels are the last axis of the op's kernel (its first weight) and of
    # its bias (its second, with use_bias): a per-channel scale and shift of
    # that axis folds into them (fold-batchnorm). None: the op has none.
    output_channels: Callable[[Any, int], int] | None = None
    # Floating-point operations per sample, what a profile's GFLOP/s divides
    # by time (layerc.runtime.profile). A multiply-add counts 2: a matrix
    # product counts 2 * (its multiply-adds), not the bias or fused activation
    # after it. Element-wise ops count one per output value (softmax and exp
    # too), pooling one per window cell read, merges one per value per input
    # after the first; ops that only move or look up values count 0 (the
    # default).
    flops: FlopsFn = _no_flops


RULES: dict[OpKind, OpRule] = {}


def register(rule: OpRule) -> OpRule:
    if rule.kind in RULES:
        raise ValueError(f"op kind {rule.kind} registered twice")
    RULES[rule.kind] = rule
    return rule


def rule_for(kind: OpKind) -> OpRule:
    _load_ops()
    rule = RULES.get(kind)
    if rule is None:
        known = ", ".join(sorted(k.value for k in RULES))
        raise IRError(f"unknown op kind {kind!r}; the IR knows {known}")
    return rule


def _load_ops() -> None:
    # The op files register themselves on import; import them once, lazily,
    # so that `registry` itself has no import cycle with them.
    if not RULES:
        import layerc.ir.ops  # noqa: F401
