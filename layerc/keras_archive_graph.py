"""The calls of a model read from a `.keras` file, for keras_archive.py: the
graph the replay in keras_import.py walks, as Keras 3 rebuilds it on load.

A Functional's config lists each layer, operation and nested model with the
`inbound_nodes` it was called on: the call's args and kwargs, where a
`__keras_tensor__` names `[layer, node index, output index]` (a nested
Functional's own node is its node 0, so its calls count from 1). Its
`input_layers` and `output_layers` name the model's tensors in the structure
the user gave (one, a list or a dict). A Sequential's config lists its layers
only: each is called on the previous one's output, with a mask the file does
not record (UNKNOWN). The calls are put in the order of Keras's
`_nodes_by_depth` (ops/function.py map_graph, transcribed), so both routes
replay them alike.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from layerc.errors import ArtifactError
from layerc.keras_objects import UNKNOWN, ArchivedLayer, ArchivedTensor, Call, Graph

TensorKey = tuple[str, int, int]  # layer, node index, output index


def constant(value: Any) -> Any:
    """A serialized constant as Keras deserializes it (a NumPy array)."""
    if isinstance(value, dict) and value.get("class_name") in ("__numpy__", "__tensor__"):
        inner = value.get("config") or {}
        return np.array(inner.get("value"), dtype=inner.get("dtype"))
    return value


def flatten(structure: Any) -> list[Any]:
    """Keras's tree.flatten: lists in order, dicts by sorted key."""
    if isinstance(structure, dict):
        return [x for key in sorted(structure) for x in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in flatten(item)]
    return [structure]


def functional_graph(source: str, members: list[ArchivedLayer],
                     entries: list[dict[str, Any]], config: dict[str, Any]) -> Graph:
    """A Functional's graph; `members` are the stand-ins of its `layers` entries."""
    return _Calls(source, members, entries).graph(config)


def sequential_graph(members: list[ArchivedLayer], config: dict[str, Any]) -> Graph | None:
    """A Sequential's graph: its InputLayer, then each layer called on the
    previous output (Keras builds it so); None when it was never built."""
    if not members or members[0].class_name != "InputLayer" or \
            not config.get("build_input_shape"):
        return None
    first = ArchivedTensor(f"{members[0].name}:0:0", _shape(members[0].config.get("batch_shape")))
    calls = [Call(members[0], [], {}, [first], True)]
    first.producer = calls[0]
    x = first
    for member in members[1:]:
        out = ArchivedTensor(f"{member.name}:{len(member.nodes)}:0")
        call = Call(member, [x], {"mask": UNKNOWN}, [out], False, all_outputs=False)
        out.producer = call
        member.nodes.append(call)
        calls.append(call)
        x = out
    return Graph(calls, [first], [x], first, x)


def _shape(value: Any) -> tuple[Any, ...] | None:
    return tuple(value) if isinstance(value, (list, tuple)) else None


class _Calls:
    """A Functional's calls, the tensors they name, the model's tensors."""

    def __init__(self, source: str, members: list[ArchivedLayer],
                 entries: list[dict[str, Any]]) -> None:
        self.source = source
        self.members = {m.name: m for m in members}
        self.tensors: dict[TensorKey, ArchivedTensor] = {}
        self.calls: dict[tuple[str, int], Call] = {}
        for member, entry in zip(members, entries):
            self._member_calls(member, entry.get("inbound_nodes"))

    def _bad(self, what: str) -> ArtifactError:
        return ArtifactError(f"from_keras: {self.source}: config.json: {what}")

    def _tensor(self, key: TensorKey, shape: Any = None) -> ArchivedTensor:
        found = self.tensors.setdefault(key, ArchivedTensor(f"{key[0]}:{key[1]}:{key[2]}"))
        if found.shape is None:
            found.shape = _shape(shape)
        return found

    def _named(self, history: Any, where: str, shape: Any = None) -> ArchivedTensor:
        """The tensor a `[layer, node, index]` names."""
        if not (isinstance(history, list) and len(history) == 3 and
                isinstance(history[0], str)):
            raise self._bad(f"{where}: {history!r} does not name a tensor as [layer, node, "
                            f"index]")
        if history[0] not in self.members:
            raise self._bad(f"{where}: names the tensor {history!r}, but the model has no "
                            f"layer {history[0]!r}")
        return self._tensor((history[0], int(history[1]), int(history[2])), shape)

    def _argument(self, value: Any, where: str) -> Any:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            inner = value.get("config") or {}
            return self._named(inner.get("keras_history"), where, inner.get("shape"))
        if isinstance(value, dict) and "class_name" in value and "config" in value:
            return constant(value)
        if isinstance(value, dict):
            return {k: self._argument(v, where) for k, v in value.items()}
        if isinstance(value, list):
            return [self._argument(v, where) for v in value]
        return value

    def _member_calls(self, member: ArchivedLayer, nodes: Any) -> None:
        where = f"layer {member.name!r} ({member.class_name})"
        if member.class_name == "InputLayer" and not nodes:
            call = Call(member, [], {}, [self._tensor((member.name, 0, 0))], True)
            self.calls[(member.name, 0)] = call
            member.nodes.append(call)
            return
        if not isinstance(nodes, list) or not nodes:
            raise self._bad(f"{where}: the model never calls it (no inbound_nodes)")
        first = 1 if member.kind == "functional" else 0  # a Functional's own node is 0
        for i, node in enumerate(nodes):
            if not isinstance(node, dict) or "args" not in node:
                raise self._bad(f"{where}: call {i} is not in Keras 3's format (args and "
                                f"kwargs); a legacy model needs Keras to read")
            what = f"{where}, call {i}"
            call = Call(member, list(self._argument(node["args"] or [], what)),
                        dict(self._argument(node.get("kwargs") or {}, what)), [], False,
                        all_outputs=False)
            self.calls[(member.name, i + first)] = call
            member.nodes.append(call)

    def graph(self, config: dict[str, Any]) -> Graph:
        inputs_struct = self._structure(config.get("input_layers"))
        outputs_struct = self._structure(config.get("output_layers"))
        last: dict[tuple[str, int], int] = {}
        for name, node, index in self.tensors:
            if (name, node) not in self.calls:
                raise self._bad(f"a call names output {index} of call {node} of {name!r}, "
                                f"which the model does not make")
            last[(name, node)] = max(index, last.get((name, node), 0))
        for (name, node), call in self.calls.items():
            if not call.is_input:  # a file names only the outputs the model uses
                call.outputs[:] = [self._tensor((name, node, i))
                                   for i in range(last.get((name, node), 0) + 1)]
        for (name, node, _), tensor in self.tensors.items():
            tensor.producer = self.calls[(name, node)]
        for call in self.calls.values():
            _infer_op_output(call)
        inputs, outputs = flatten(inputs_struct), flatten(outputs_struct)
        return Graph(_keras_order(inputs, outputs), inputs, outputs, inputs_struct,
                     outputs_struct)

    def _structure(self, value: Any) -> Any:
        """The model's tensors (Keras's functional_from_config map_tensors)."""
        if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
            return self._named(value, "the model's inputs or outputs")
        if isinstance(value, dict):
            return {k: self._structure(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._structure(v) for v in value]
        raise self._bad(f"the model's inputs or outputs are {value!r}, not [layer, node, "
                        f"index] lists")


def _infer_op_output(call: Call) -> None:
    """The shape of a reshaping operation's output that no call names (the
    model only returns it), as Keras infers it: keras_ops.py reads it."""
    out = call.outputs[0]
    x = call.args[0] if call.args else None
    if call.operation.kind != "op" or out.shape is not None or \
            not isinstance(x, ArchivedTensor) or x.shape is None:
        return
    config, shape = call.operation.config, list(x.shape)
    axes = config.get("axis")
    axes = [] if axes is None else list(axes) if isinstance(axes, (list, tuple)) else [axes]
    if call.operation.class_name == "Reshape":  # operation_utils.compute_reshape_output_shape
        new = [d if isinstance(d, int) else None for d in config.get("newshape") or []]
        if None in shape or None in new or -1 not in new:
            out.shape = tuple(None if d == -1 else d for d in new)
        else:
            known = math.prod(d for d in new if d is not None and d != -1) or 1
            size = math.prod(d for d in shape if d is not None)
            out.shape = tuple(size // known if d == -1 else d for d in new)
    elif call.operation.class_name == "ExpandDims":
        for a in sorted(a % (len(shape) + len(axes)) for a in axes):
            shape.insert(a, 1)
        out.shape = tuple(shape)
    elif call.operation.class_name == "Squeeze":
        drop = {a % len(shape) for a in axes} if axes else \
            {i for i, d in enumerate(shape) if d == 1}
        out.shape = tuple(d for i, d in enumerate(shape) if i not in drop)


def _keras_order(inputs: list[ArchivedTensor], outputs: list[ArchivedTensor]) -> list[Call]:
    """The calls in the order of Keras's `_nodes_by_depth` (map_graph and
    _build_map): deepest first, a depth's calls in the order Keras meets them."""
    finished: set[int] = set()
    in_progress: set[int] = set()
    ordered: list[Call] = []
    input_ids = {id(t) for t in inputs}

    def visit(tensor: ArchivedTensor) -> None:
        node = tensor.producer
        if node is None or id(node) in finished:
            return
        if not node.is_input and id(tensor) in input_ids:
            finished.add(id(node))
            return
        if id(node) in in_progress:
            raise ArtifactError(f"from_keras: the graph has a cycle through {tensor.name!r}")
        in_progress.add(id(node))
        if not node.is_input:
            for t in _input_tensors(node):
                visit(t)
        finished.add(id(node))
        in_progress.remove(id(node))
        ordered.append(node)

    for t in outputs:
        visit(t)
    in_graph = {id(n) for n in ordered}
    depths: dict[Call, int] = {}
    op_depths: dict[int, int] = {}
    for node in reversed(ordered):
        depth = max(depths.setdefault(node, 0), op_depths.get(id(node.operation), 0))
        op_depths[id(node.operation)] = depth
        depths[node] = depth
        for t in _input_tensors(node):
            parent = t.producer
            if parent is not None and id(parent) in in_graph:
                depths[parent] = max(depth + 1, depths.get(parent, 0))
    for t in inputs:  # inputs no output depends on
        given = t.producer
        if given is not None and given.is_input and id(given.operation) not in op_depths:
            op_depths[id(given.operation)] = 0
            depths[given] = 0
    by_depth: dict[int, list[Call]] = defaultdict(list)
    for node, depth in depths.items():
        by_depth[depth].append(node)
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]


def _input_tensors(call: Call) -> list[ArchivedTensor]:
    """A call's tensor arguments, as Keras's SymbolicArguments.keras_tensors."""
    return [x for x in flatten([call.args, call.kwargs]) if isinstance(x, ArchivedTensor)]
