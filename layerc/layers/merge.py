"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
Dot, and their functional spellings (`add([a, b])`, ...).

Masks combine as Keras 3.15's merges combine them: the element-wise merges
give the OR of their inputs' masks when every input has one (else none),
and Maximum, Minimum and Multiply skip masked values too (a chain of
masked_merge pairs); Concatenate along the last axis gives the OR when every
input has one (an unmasked input makes Keras's mask all ones: none here),
along another axis the masks concatenated along it. Dot drops masks. A mask
is 1/0 floats, so the OR is a Maximum op and the join a Concatenate op."""

from __future__ import annotations

from typing import Any

from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port
from layerc.ir.ops.core import TransposeAttrs
from layerc.ir.ops.merge import ConcatAttrs, DotAttrs, MaskedMergeAttrs, MergeAttrs
from layerc.ir.ops.normalization import LayerNormAttrs
from layerc.ir.ops.reshaping import BroadcastAttrs
from layerc.layers.base import Builder, Layer, SymbolicTensor


# Keras 3.15's merges that replace masked values (the others only OR the masks).
_MASKED_BINOPS = {OpKind.MAXIMUM: "max", OpKind.MINIMUM: "min", OpKind.MULTIPLY: "mul"}


class _MaskedMerge(Layer):
    """A merge that combines its inputs' masks (see the module's doc)."""

    multi_input = True

    def joined_axis(self, xs: list[SymbolicTensor]) -> int | None:
        """The axis along which the output mask joins the inputs' masks, or
        None when it is their OR."""
        return None

    def consumed_masks(self, xs: list[SymbolicTensor]) -> list[SymbolicTensor]:
        masks = [x.mask for x in xs if x.mask is not None]
        if len(masks) < len(xs):
            if masks and self.joined_axis(xs) is not None:
                raise ConfigError(f"{self.label()}: joins a masked and an unmasked input along "
                                  f"a masked axis; Keras gives the unmasked input a mask of "
                                  f"ones, which layerc does not make (mask both inputs)")
            return []
        if len({m.type for m in masks}) > 1 and self.joined_axis(xs) is None:
            raise ShapeError(f"{self.label()}: its inputs' masks have different shapes "
                             f"({', '.join(str(m.type) for m in masks)}); layerc combines "
                             f"masks of one shape")
        if len({id(m) for m in masks}) == 1 and self.joined_axis(xs) is None:
            return []  # one mask shared by every input: it passes on
        return masks

    def output_mask(self, xs: list[SymbolicTensor], index: int) -> SymbolicTensor | None:
        masks = {id(x.mask): x.mask for x in xs}
        return masks.popitem()[1] if len(masks) == 1 else None

    def emit_mask(self, b: Builder) -> None:
        """The OR of the consumed masks (a Maximum of 1/0 values), or their join."""
        if b.masks:
            b.out_mask = b.add(OpKind.MAXIMUM, b.masks, MergeAttrs(), helper="mask")


class _Elementwise(_MaskedMerge):
    """An element-wise merge. Inputs of one rank broadcast as Keras 3's merges
    do: an axis of size 1 repeats to the others' size (a broadcast op before
    the merge); ranks that differ are refused."""

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
        if self.op in _MASKED_BINOPS and b.masks:
            return [self._emit_masked(b, ports)]
        out = b.add(self.op, ports, MergeAttrs())
        self.emit_mask(b)
        return [out]

    def consumed_masks(self, xs: list[SymbolicTensor]) -> list[SymbolicTensor]:
        if self.op not in _MASKED_BINOPS:
            return super().consumed_masks(xs)
        super().consumed_masks(xs)  # the same checks
        return list({id(x.mask): x.mask for x in xs if x.mask is not None}.values())

    def _emit_masked(self, b: Builder, ports: list[Port]) -> Port:
        """Keras 3.15's Maximum, Minimum and Multiply skip masked values: a
        chain of masked pairs, each against the OR of the masks so far (None
        once an unmasked input has come: a mask of ones)."""
        binop, masks = _MASKED_BINOPS[self.op], b.input_masks
        every = all(m is not None for m in masks)
        out, seen = ports[0], masks[0]
        for i, (port, mask) in enumerate(zip(ports[1:], masks[1:]), 1):
            if seen is None and mask is None:
                out = b.add(self.op, [out, port], MergeAttrs(), helper=f"pair{i}")
                continue
            zero = every and binop == "mul" and i == len(ports) - 1
            attrs = MaskedMergeAttrs(binop, (seen is not None, mask is not None), zero)
            reads = [out, port] + [m for m in (seen, mask) if m is not None]
            out = b.add(OpKind.MASKED_MERGE, reads, attrs, helper=f"pair{i}")
            if seen is not None and mask is not None and seen is not mask:
                seen = b.add(OpKind.MAXIMUM, [seen, mask], MergeAttrs(), helper=f"mask{i}")
            elif mask is None:
                seen = None
        if seen is not None and all(seen is not m for m in masks):
            b.out_mask = seen  # a new OR; one shared mask passes on (output_mask)
        return out


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


class Concatenate(_MaskedMerge):
    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"{self.label()}: axis must be an int, got {axis!r}")
        self.axis = axis

    def joined_axis(self, xs: list[SymbolicTensor]) -> int | None:
        rank = xs[0].type.rank
        axis = self.axis % rank if -rank <= self.axis < rank else rank - 1
        return axis if axis < rank - 1 else None

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        rank = b.graph.type_of(inputs[0]).rank
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ShapeError(f"{self.label(b.source)}: axis {self.axis} is out of range for "
                             f"inputs of rank {rank} (the batch axis 0 cannot be joined)")
        out = b.add(OpKind.CONCATENATE, inputs, ConcatAttrs(axis))
        if b.masks and axis < rank - 1:  # a mask has the input's axes but the last
            b.out_mask = b.add(OpKind.CONCATENATE, b.masks, ConcatAttrs(axis), helper="mask")
        else:
            self.emit_mask(b)
        return [out]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Dot(Layer):
    """Keras's Dot: the batch-wise dot product of two inputs over `axes` (an
    int for both, or one per input; negative counts from the end), with
    `normalize` each input first L2-normalized along its axis. The output
    has x's other axes, then y's ((batch, 1) for two vectors). Runs as a
    per-sample matrix product after transposes that move the contracted
    axes into place (x's last, y's first)."""

    multi_input = True

    def __init__(self, axes: Any, normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pair = (axes, axes) if isinstance(axes, int) and not isinstance(axes, bool) else axes
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or any(
                isinstance(a, bool) or not isinstance(a, int) for a in pair):
            raise ConfigError(f"{self.label()}: axes must be an int or a pair of ints, got "
                              f"{axes!r}")
        self.axes = axes if isinstance(axes, int) else list(axes)
        self._pair = tuple(pair)
        self.normalize = bool(normalize)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        if len(inputs) != 2:
            raise ShapeError(f"{self.label(b.source)}: expects exactly 2 inputs, "
                             f"got {len(inputs)}")
        ports = []
        for i, (port, axis, to_end) in enumerate(zip(inputs, self._pair, (True, False))):
            rank = b.graph.type_of(port).rank
            if not -rank < axis < rank or axis % rank == 0:
                raise ShapeError(f"{self.label(b.source)}: axis {axis} is not a sample axis of "
                                 f"input {i} {b.graph.type_of(port)}")
            axis %= rank
            if self.normalize:
                port = b.add(OpKind.LAYER_NORM, [port], LayerNormAttrs(
                    (axis,), center=False, scale=False, mode="unit"), helper=f"normalize{i}")
            others = [a for a in range(1, rank) if a != axis]
            perm = (0, *others, axis) if to_end else (0, axis, *others)
            if perm != tuple(range(rank)):
                port = b.add(OpKind.TRANSPOSE, [port], TransposeAttrs(perm),
                             helper=f"transpose{i}")
            ports.append(port)
        return [b.add(OpKind.DOT, ports, DotAttrs())]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


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


def dot(inputs: list, axes: Any = -1, normalize: bool = False, **kwargs: Any) -> Any:
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)

__all__ = ["Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply",
           "Subtract", "add", "average", "concatenate", "dot", "maximum", "minimum",
           "multiply", "subtract"]
