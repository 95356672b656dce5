"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
and their functional spellings (`add([a, b])`, ...)."""

from __future__ import annotations

from typing import Any

from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port
from layerc.ir.ops.merge import ConcatAttrs, MergeAttrs
from layerc.ir.ops.reshaping import BroadcastAttrs
from layerc.layers.base import Builder, Layer


class _Elementwise(Layer):
    """An element-wise merge. Inputs of one rank broadcast as Keras 3's merges
    do: an axis of size 1 repeats to the others' size (a broadcast op before
    the merge); ranks that differ are refused."""

    multi_input = True
    op: OpKind

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        types = [b.graph.type_of(p) for p in inputs]
        if len({t.rank for t in types}) > 1:
            raise ShapeError(f"{self.label(b.source)}: inputs of different ranks "
                             f"({', '.join(str(t) for t in types)}); layerc broadcasts inputs "
                             f"of one rank only (add a Reshape)")
        shape = []
        for axis in range(1, types[0].rank):
            sizes = {t.shape[axis] for t in types} - {1}
            if len(sizes) > 1:
                raise ShapeError(f"{self.label(b.source)}: axis {axis} of the inputs "
                                 f"({', '.join(str(t) for t in types)}) does not broadcast")
            shape.append(sizes.pop() if sizes else 1)
        ports = [p if t.sample_shape == tuple(shape) else
                 b.add(OpKind.BROADCAST, [p], BroadcastAttrs(tuple(shape)),  # type: ignore
                       helper=f"broadcast{i}")
                 for i, (p, t) in enumerate(zip(inputs, types))]
        return [b.add(self.op, ports, MergeAttrs())]


class Add(_Elementwise):
    op = OpKind.ADD


class Subtract(_Elementwise):
    op = OpKind.SUBTRACT

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        if len(inputs) != 2:
            raise ShapeError(f"{self.label(b.source)}: expects exactly 2 inputs, "
                             f"got {len(inputs)}")
        return super().emit(b, inputs)


class Multiply(_Elementwise):
    op = OpKind.MULTIPLY


class Average(_Elementwise):
    op = OpKind.AVERAGE


class Maximum(_Elementwise):
    op = OpKind.MAXIMUM


class Minimum(_Elementwise):
    op = OpKind.MINIMUM


class Concatenate(Layer):
    multi_input = True

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"{self.label()}: axis must be an int, got {axis!r}")
        self.axis = axis

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        rank = b.graph.type_of(inputs[0]).rank
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ShapeError(f"{self.label(b.source)}: axis {self.axis} is out of range for "
                             f"inputs of rank {rank} (the batch axis 0 cannot be joined)")
        return [b.add(OpKind.CONCATENATE, inputs, ConcatAttrs(axis))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


def add(inputs: list, **kwargs: Any) -> Any:
    return Add(**kwargs)(inputs)


def subtract(inputs: list, **kwargs: Any) -> Any:
    return Subtract(**kwargs)(inputs)


def multiply(inputs: list, **kwargs: Any) -> Any:
    return Multiply(**kwargs)(inputs)


def average(inputs: list, **kwargs: Any) -> Any:
    return Average(**kwargs)(inputs)


def maximum(inputs: list, **kwargs: Any) -> Any:
    return Maximum(**kwargs)(inputs)


def minimum(inputs: list, **kwargs: Any) -> Any:
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    return Concatenate(axis=axis, **kwargs)(inputs)

__all__ = ["Add", "Average", "Concatenate", "Maximum", "Minimum", "Multiply", "Subtract",
           "add", "average", "concatenate", "maximum", "minimum", "multiply", "subtract"]
