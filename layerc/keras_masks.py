"""Which mask is which, for `from_keras`: Keras masks and layerc masks as
comparable keys.

Keras computes a mask with ops that it records in the functional graph
(`not_equal(ids, 0)` for an Embedding, `logical_or` for an Add of masked
inputs, expand_dims / zeros_like / concatenate / any for a Concatenate), and a
loaded .keras graph recomputes them as op nodes of its own, so Keras tensors
cannot be matched by identity. Both sides are reduced to a key instead:

- ("ids", id(t)): the mask an Embedding or a Masking computes from layerc
  tensor t (Keras: not_equal on t's twin, or the layer's own mask);
- ("or", frozenset of keys): the OR of several masks (a merge's);
- ("join", axis, keys): masks concatenated along an axis (Concatenate's);
- TRUE, a mask of ones (Concatenate of a masked and an unmasked input),
  which applies as no mask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from layerc.keras_objects import Call, class_name, is_tensor, producer
from layerc.layers.base import SymbolicTensor

Key = tuple
TRUE: Key = ("true",)
_FALSE: Key = ("false",)


def _or(parts: list[Key]) -> Key:
    """The key of the OR of masks; ORs flatten, a lone mask is itself."""
    if TRUE in parts:
        return TRUE
    parts = [p for p in parts if p != _FALSE]
    if parts and all(p[0] == "expand" for p in parts):
        return ("expand", _or([p[1] for p in parts]))
    flat: set[Key] = set()
    for p in parts:
        flat |= p[1] if p[0] == "or" else {p}
    return flat.pop() if len(flat) == 1 else ("or", frozenset(flat))


def layerc_key(mask: SymbolicTensor | None) -> Key | None:
    """The key of a layerc mask (None for none)."""
    if mask is None:
        return None
    node = mask.layer._nodes[mask.node_index]
    if node.mask_inputs == 0:  # Embedding(mask_zero=True) or Masking made it
        return ("ids", id(node.data_inputs[0]))
    parts = [layerc_key(m) for m in node.inputs[len(node.inputs) - node.mask_inputs:]]
    joins = getattr(node.layer, "joined_axis", lambda xs: None)(list(node.data_inputs))
    return _or(parts) if joins is None else ("join", joins, tuple(parts))  # type: ignore


def _axis(value: Any) -> int | None:
    """An op's axis given as an int or a one-element list."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, int) else None


class KerasMasks:
    """Keys of the Keras tensors that are masks. A layer's mask is often a
    tensor outside the graph's nodes (a loaded .keras graph recomputes masks
    for the call arguments but keeps each output's own), so a key is found
    by walking the ops that made the tensor (its producer)."""

    def __init__(self, twin_of: Callable[[Any], SymbolicTensor | None]) -> None:
        self.twin_of = twin_of  # a converted Keras tensor's layerc twin
        self.keys: dict[int, Key | None] = {}  # id(keras tensor) -> key

    def made_from(self, kmask: Any, twin: SymbolicTensor) -> None:
        """A mask an Embedding or Masking made from the layerc twin `twin`."""
        if kmask is not None:
            self.keys[id(kmask)] = ("ids", id(twin))

    def key(self, ktensor: Any) -> Key | None:
        """The key of a Keras mask, None when it is not one layerc knows."""
        if ktensor is None or not is_tensor(ktensor):
            return None
        if id(ktensor) not in self.keys:
            node = producer(ktensor)
            self.keys[id(ktensor)] = None if node is None else self._op_key(node)
        return self.keys[id(ktensor)]

    def _op_key(self, node: Call) -> Key | None:
        """The key of an op node's output when it computes a mask from known
        masks (the ops Keras 3.15's Embedding, Masking and merges use)."""
        op, args = node.operation, list(node.args)
        kind = class_name(op)
        if node.kwargs or not args:
            return None
        if kind == "NotEqual" and len(args) == 2 and isinstance(args[1], (int, float)):
            twin = self.twin_of(args[0])  # Embedding: ids != 0; Masking: x != value
            return None if twin is None else ("ids", id(twin))
        if kind == "ZerosLike":
            return _FALSE
        if kind == "OnesLike":
            return TRUE
        if kind == "Concatenate" and len(args) == 1 and isinstance(args[0], (list, tuple)):
            parts = [self.key(a) for a in args[0]]
            if not all(parts) or not isinstance(op.axis, int):
                return None
            return ("cat", op.axis % len(args[0][0].shape), tuple(parts))
        found = [self.key(a) for a in args]
        known = [k for k in found if k is not None]
        if len(known) < len(found):
            return None
        if kind == "ExpandDims" and len(args) == 1 and _axis(op.axis) == -1:
            return ("expand", known[0])
        if kind == "LogicalOr" and len(args) == 2:
            return _or(known)
        if kind == "Any" and len(args) == 1 and not op.keepdims \
                and _axis(op.axis) in (-1, len(args[0].shape) - 1):
            first = known[0]
            if first[0] == "ids":  # Masking: any(x != value) over the features
                return first
            if first[0] != "cat":
                return None
            _, axis, parts = first
            if axis == len(args[0].shape) - 1:
                return _or([p if p in (TRUE, _FALSE) else p[1] for p in parts])
            if all(p[0] == "expand" for p in parts):
                return ("join", axis, tuple(p[1] for p in parts))
        return None


def same_mask(ours: Key | None, theirs: Key | None) -> bool:
    """True when two mask keys apply alike (a mask of ones is none)."""
    return (None if ours == TRUE else ours) == (None if theirs == TRUE else theirs)
