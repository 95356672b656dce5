"""IR nodes: frozen values whose output types are inferred when they are built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from layerc.ir.errors import ConfigError, ShapeError, where
from layerc.ir.opkind import OpKind
from layerc.ir.registry import rule_for
from layerc.ir.types import TensorType


class Port(NamedTuple):
    """One output of one node."""

    node: str
    index: int = 0  # type: ignore[assignment]  # a field named like tuple.index

    def __str__(self) -> str:
        return f"%{self.node}" if self.index == 0 else f"%{self.node}#{self.index}"


@dataclass(frozen=True, slots=True)
class Node:
    """One op application. Build it with `Node.make`, which infers `types`."""

    id: str
    op: OpKind
    inputs: tuple[Port, ...]
    attrs: Any
    types: tuple[TensorType, ...]
    weights: tuple[str, ...] = ()
    layer: str = ""  # the user's layer name
    layer_kind: str = ""  # the user's layer class, e.g. "Dense"
    source: str = ""  # the user's file:line

    @classmethod
    def make(
        cls,
        id: str,
        op: OpKind,
        inputs: tuple[Port, ...],
        attrs: Any,
        in_types: tuple[TensorType, ...],
        weights: tuple[str, ...] = (),
        layer: str = "",
        layer_kind: str = "",
        source: str = "",
    ) -> Node:
        rule = rule_for(op)
        if not isinstance(attrs, rule.attrs):
            raise TypeError(f"{op} takes {rule.attrs.__name__}, got {type(attrs).__name__}")
        label = where(layer or id, layer_kind, source)
        low, high = rule.arity
        if len(inputs) < low or (high is not None and len(inputs) > high):
            expected = f"{low}" if low == high else f"at least {low}"
            raise ShapeError(f"{label}: expected {expected} input(s), got {len(inputs)}")
        try:
            types = rule.infer(attrs, tuple(in_types))
        except ShapeError as err:
            raise ShapeError(f"{label}: {err}") from None
        except ConfigError as err:  # attrs no layer can have (ir/ops/checks.py)
            raise ConfigError(f"{label}: {err}") from None
        return cls(id, op, tuple(Port(*p) for p in inputs), attrs, types, tuple(weights),
                   layer, layer_kind, source)

    @property
    def type(self) -> TensorType:
        """The type of the first (usually only) output."""
        return self.types[0]

    @property
    def label(self) -> str:
        """How errors name this node: the user's layer, its kind and line."""
        return where(self.layer or self.id, self.layer_kind, self.source)

    def port(self, index: int = 0) -> Port:
        return Port(self.id, index)
