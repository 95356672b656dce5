"""JSON round trip of a graph (weights travel separately, by name).

`from_json` reads untrusted input: an artifact's graph.json, which anyone can
edit and rehash. It checks the document against what `to_json` writes: its
structure and every field's type, each node's attrs against their declared
types (the op rule's `infer` then refuses values no layer can have, such as
a zero stride), the stored types against the ones inferred again, the graph's
inputs and outputs, that the nodes' weights, the table of their shapes and the
arrays given name the same weights with the same shapes, and that the memory
plan gives every tensor one place. The first problem is an IRError that says
where (`node %conv2d_1 (Conv2D at model.py:3): ...`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
import functools
import math
import types
import typing
from typing import Any

import numpy as np

from layerc.ir.errors import IRError, LayercError
from layerc.ir.graph import Graph
from layerc.ir.memory import MemoryPlan
from layerc.ir.node import Port
from layerc.ir.opkind import OpKind
from layerc.ir.registry import rule_for
from layerc.ir.types import TensorType

FORMAT = 1
# No size, count, index or offset in a graph is larger (Keras's are int32);
# kernels compute with them in int64 without overflow checks.
LIMIT = 2**31 - 1
_GRAPH_KEYS = ("format", "name", "inputs", "outputs", "nodes", "weights", "memory_plan")
_NODE_KEYS = ("id", "op", "inputs", "attrs", "types", "weights", "layer", "layer_kind", "source")
_PLAN_KEYS = ("offsets", "arena_size", "naive_size")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def to_json(graph: Graph) -> dict:
    nodes = []
    for n in graph.nodes():
        nodes.append({
            "id": n.id,
            "op": n.op.value,
            "inputs": [[p.node, p.index] for p in n.inputs],
            "attrs": {f.name: _plain(getattr(n.attrs, f.name))
                      for f in dataclasses.fields(n.attrs)},
            "types": [t.to_json() for t in n.types],
            "weights": list(n.weights),
            "layer": n.layer,
            "layer_kind": n.layer_kind,
            "source": n.source,
        })
    return {
        "format": FORMAT,
        "name": graph.name,
        "inputs": list(graph.inputs),
        "outputs": [[p.node, p.index] for p in graph.outputs],
        "nodes": nodes,
        "weights": {k: list(v.shape) for k, v in sorted(graph.weights.items())},
        "memory_plan": None if graph.memory_plan is None else graph.memory_plan.to_json(),
    }


def from_json(data: Any, weights: dict[str, np.ndarray]) -> Graph:
    """Rebuilds a graph from `to_json`'s form and `weights` (name -> array),
    checking both as untrusted input (see the module's docstring); every
    node's types are inferred again."""
    doc = _record(data, "the graph", _GRAPH_KEYS)
    if doc["format"] != FORMAT or isinstance(doc["format"], bool):
        raise IRError(f"graph format {_show(doc['format'])} is not {FORMAT}, the one this "
                      f"layerc reads")
    graph = Graph(_str(doc["name"], "the graph's name"))
    graph.weights = dict(weights)
    for i, item in enumerate(_list(doc["nodes"], "nodes")):
        _add_node(graph, item, i)
    graph.inputs = _inputs(graph, doc["inputs"])
    outputs = _list(doc["outputs"], "the graph's outputs")
    if not outputs:
        raise IRError("the graph has no outputs")
    graph.outputs = [_port(graph, p, f"graph output {i}") for i, p in enumerate(outputs)]
    _check_weights(graph, doc["weights"])
    if doc["memory_plan"] is not None:
        graph.memory_plan = _memory_plan(graph, doc["memory_plan"])
    return graph


# ----- the nodes -----
def _add_node(graph: Graph, item: Any, i: int) -> None:
    record = _record(item, f"node {i}", _NODE_KEYS)
    node_id = _str(record["id"], f"node {i}'s id")
    where = f"node %{node_id}"
    if not node_id:
        raise IRError(f"node {i} has an empty id")
    if node_id in graph:
        raise IRError(f"{where}: a second node has this id")
    op = record["op"]
    if not isinstance(op, str) or op not in {k.value for k in OpKind}:
        raise IRError(f"{where}: unknown op {_show(op)}")
    kind = OpKind(op)
    attrs = _attrs(kind, record["attrs"], where)
    inputs = [_port(graph, p, f"{where}'s input {j}", earlier=True)
              for j, p in enumerate(_list(record["inputs"], f"{where}'s inputs"))]
    names = tuple(_str(w, f"{where}'s weight {j}")
                  for j, w in enumerate(_list(record["weights"], f"{where}'s weights")))
    layer, layer_kind, source = (_str(record[k], f"{where}'s {k}")
                                 for k in ("layer", "layer_kind", "source"))
    try:
        node = graph.add(kind, inputs, attrs, names, layer, layer_kind, source, id=node_id)
    except LayercError as err:
        raise IRError(f"{where}: {err}") from None
    stored = tuple(_type(t, f"{where}'s type {j}")
                   for j, t in enumerate(_list(record["types"], f"{where}'s types")))
    if stored != node.types:
        raise IRError(f"{where} ({node.label}): its types are stored as "
                      f"{', '.join(map(str, stored)) or 'none'}, inference gives "
                      f"{', '.join(map(str, node.types))}")


def _attrs(kind: OpKind, data: Any, where: str) -> Any:
    cls = rule_for(kind).attrs
    fields = _fields(cls)
    if not isinstance(data, dict):
        raise IRError(f"{where}: attrs must be an object, got {_show(data)}")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise IRError(f"{where}: {kind.value} has no attr(s) {', '.join(map(repr, unknown))}")
    # An attr with a default may be missing: an older layerc wrote no such field.
    missing = sorted(name for name, (_, required) in fields.items()
                     if required and name not in data)
    if missing:
        raise IRError(f"{where}: attr(s) {', '.join(map(repr, missing))} missing")
    values = {name: _value(value, fields[name][0], f"{where}: attr {name!r}")
              for name, value in data.items()}
    return cls(**values)


@functools.cache
def _fields(cls: type) -> dict[str, tuple[Any, bool]]:
    """name -> (declared type, required) of an attrs dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)
            for f in dataclasses.fields(cls)}


def _value(value: Any, hint: Any, where: str) -> Any:
    """`value` (from JSON) as the declared type `hint` of an attr; tuples
    come as lists."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        choices = [a for a in args if a is not type(None)]
        if len(choices) == 1:
            return _value(value, choices[0], where)
        for choice in choices:
            try:
                return _value(value, choice, where)
            except IRError:
                continue
        raise IRError(f"{where} must be {_describe(hint)}, got {_show(value)}")
    if origin is tuple:
        if not isinstance(value, list):
            raise IRError(f"{where} must be {_describe(hint)}, got {_show(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise IRError(f"{where} must be {_describe(hint)}, got {_show(value)}")
        return tuple(_value(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if hint is bool:
        if not isinstance(value, bool):
            raise IRError(f"{where} must be true or false, got {_show(value)}")
        return value
    if hint is int:
        return _int(value, where, -LIMIT)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise IRError(f"{where} must be a number, got {_show(value)}")
        return float(value)
    if hint is str:
        return _str(value, where)
    raise IRError(f"{where}: layerc cannot read attrs of type {hint}")  # a rule's own bug


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of ({_describe(args[0])})"
        return f"a list of {len(args)}: ({', '.join(_describe(a) for a in args)})"
    return {bool: "true or false", int: "an int", float: "a number", str: "a string"}.get(
        hint, str(hint))


def _type(data: Any, where: str) -> TensorType:
    record = _record(data, where, ("shape", "dtype"))
    shape = tuple(None if d is None else _int(d, f"{where}'s shape")
                  for d in _list(record["shape"], f"{where}'s shape"))
    return TensorType(shape, _str(record["dtype"], f"{where}'s dtype"))


# ----- the graph's inputs, outputs, weights and memory plan -----
def _inputs(graph: Graph, data: Any) -> list[str]:
    names = [_str(n, f"graph input {i}") for i, n in enumerate(_list(data, "the inputs"))]
    nodes = [n.id for n in graph.nodes() if n.op is OpKind.INPUT]
    if sorted(names) != sorted(nodes):
        raise IRError(f"the graph's inputs {names} are not its input nodes {nodes}, each once")
    return names


def _port(graph: Graph, data: Any, where: str, earlier: bool = False) -> Port:
    """A [node id, output index] pair naming an output of a node in `graph`
    (one that comes before, for a node's input: so the graph has no cycle)."""
    pair = _list(data, where)
    if len(pair) != 2:
        raise IRError(f"{where} must be [node id, output index], got {_show(data)}")
    node_id, index = _str(pair[0], where), _int(pair[1], where)
    if node_id not in graph:
        before = " earlier" if earlier else ""
        raise IRError(f"{where} reads %{node_id}, which is no{before} node of the graph")
    if index >= len(graph.node(node_id).types):
        raise IRError(f"{where} reads output {index} of %{node_id}, which has "
                      f"{len(graph.node(node_id).types)}")
    return Port(node_id, index)


def _check_weights(graph: Graph, table: Any) -> None:
    """The nodes' weights, graph.json's table of weight shapes and the arrays
    given name the same weights; the table's shapes are the arrays'."""
    if not isinstance(table, dict):
        raise IRError(f"the weights table must be an object, got {_show(table)}")
    named = {w for n in graph.nodes() for w in n.weights}
    for what, names in (("the weights table", set(table)), ("the weight arrays",
                                                            set(graph.weights))):
        missing, unused = sorted(named - names), sorted(names - named)
        if missing:
            raise IRError(f"{what} lacks {', '.join(map(repr, missing[:5]))}, which "
                          f"{_user(graph, missing[0])} reads")
        if unused:
            raise IRError(f"{what} has {', '.join(map(repr, unused[:5]))}, which no node reads")
    for name, shape in sorted(table.items()):
        dims = tuple(_int(d, f"the shape of weight {name!r}")
                     for d in _list(shape, f"the shape of weight {name!r}"))
        if dims != tuple(graph.weights[name].shape):
            raise IRError(f"weight {name!r} of {_user(graph, name)} has shape "
                          f"{graph.weights[name].shape}; the weights table says {dims}")


def _user(graph: Graph, weight: str) -> str:
    node = next(n for n in graph.nodes() if weight in n.weights)
    return f"node %{node.id} ({node.label})"


def _memory_plan(graph: Graph, data: Any) -> MemoryPlan:
    """A plan of the right shape: every output of every node has one offset
    (its values are the plan verifier's to check: codegen)."""
    record = _record(data, "the memory plan", _PLAN_KEYS)
    offsets = []
    for i, entry in enumerate(_list(record["offsets"], "the memory plan's offsets")):
        where = f"the memory plan's offset {i}"
        triple = _list(entry, where)
        if len(triple) != 3:
            raise IRError(f"{where} must be [node id, output index, offset], got {_show(entry)}")
        port = _port(graph, triple[:2], where)
        offsets.append((port, _int(triple[2], where)))
    counts = Counter(p for p, _ in offsets)
    for node in graph.nodes():
        for i in range(len(node.types)):
            if counts[node.port(i)] != 1:
                raise IRError(f"the memory plan gives {node.port(i)} ({node.label}) "
                              f"{counts[node.port(i)]} offsets, not one")
    return MemoryPlan(tuple(offsets), _int(record["arena_size"], "the arena size"),
                      _int(record["naive_size"], "the memory plan's naive size"))


# ----- JSON values -----
def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _record(data: Any, where: str, keys: tuple[str, ...]) -> dict:
    """An object with exactly `keys`."""
    if not isinstance(data, dict):
        raise IRError(f"{where} must be an object with {', '.join(keys)}; got {_show(data)}")
    if set(data) != set(keys):
        missing = sorted(set(keys) - set(data))
        unknown = sorted(set(data) - set(keys))
        raise IRError(f"{where}: missing {missing}, unknown {unknown}")
    return data


def _list(data: Any, where: str) -> list:
    if not isinstance(data, list):
        raise IRError(f"{where} must be a list, got {_show(data)}")
    return data


def _str(data: Any, where: str) -> str:
    if not isinstance(data, str):
        raise IRError(f"{where} must be a string, got {_show(data)}")
    return data


def _int(data: Any, where: str, low: int = 0, high: int = LIMIT) -> int:
    if isinstance(data, bool) or not isinstance(data, int) or not low <= data <= high:
        raise IRError(f"{where} must be an int in [{low}, {high}], got {_show(data)}")
    return data
