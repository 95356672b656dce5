"""The Layer base class, symbolic tensors and the records of layer calls.

Calling a layer on symbolic tensors builds its weights (once), emits its IR
into a scratch graph to infer the output types (so shapes are computed by the
IR's own rules, never twice), and records a LayerNode that models trace.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from layerc import initializers
from layerc.errors import ConfigError, LayerNodeError, ShapeError
from layerc.ir import Graph, OpKind, Port, TensorType, rule_for
from layerc.ir.ops.core import InputAttrs

_name_counts: dict[str, int] = defaultdict(int)

LAYERS: dict[str, type[Layer]] = {}
"""Every public layer class by name (for `deserialize` and `from_config`);
a class registers itself when it is defined (see `Layer.__init_subclass__`)."""


def to_snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """Keras's automatic names: dense, dense_1, dense_2, ..."""
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


# A source every layer made or called meanwhile takes instead of the user's
# line (from_keras: the Keras layer is named in its errors, not the line that
# called from_keras).
_SOURCE: ContextVar[str | None] = ContextVar("layerc_source", default=None)


@contextmanager
def source_override(text: str) -> Iterator[None]:
    token = _SOURCE.set(text)
    try:
        yield
    finally:
        _SOURCE.reset(token)


def user_source() -> str:
    """file:line of the innermost frame outside layerc (the user's code)."""
    override = _SOURCE.get()
    if override is not None:
        return override
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "layerc":
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return ""
    return f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}"


class SymbolicTensor:
    """The output of a layer call on symbolic inputs (Keras's KerasTensor)."""

    def __init__(self, type: TensorType, layer: Layer, node_index: int, tensor_index: int):
        self.type = type
        self.layer = layer
        self.node_index = node_index
        self.tensor_index = tensor_index
        self.mask: SymbolicTensor | None = None  # (batch, time) 1/0, as Keras's _keras_mask

    @property
    def shape(self) -> tuple[int | None, ...]:
        return self.type.shape

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.rank

    @property
    def name(self) -> str:
        suffix = "" if self.node_index == 0 and self.tensor_index == 0 else \
            f"_{self.node_index}_{self.tensor_index}"
        return f"{self.layer.name}{suffix}"

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


@dataclass(frozen=True)
class LayerNode:
    """One call of a layer: what it read and what it produced. The last
    `mask_inputs` inputs are the masks the layer consumes (one, or a merge's
    several); when `mask_output`, the last output is the mask it produces."""

    layer: Layer
    inputs: tuple[SymbolicTensor, ...]
    outputs: tuple[SymbolicTensor, ...]
    source: str
    mask_inputs: int = 0
    mask_output: bool = False

    @property
    def data_inputs(self) -> tuple[SymbolicTensor, ...]:
        return self.inputs[:len(self.inputs) - self.mask_inputs]

    @property
    def data_outputs(self) -> tuple[SymbolicTensor, ...]:
        return self.outputs[:-1] if self.mask_output else self.outputs

    def emit(self, b: Builder, ports: list[Port]) -> list[Port]:
        """Emits this call over `ports` (one per input); returns one port per
        output, the produced mask last."""
        if self.mask_inputs:
            cut = len(ports) - self.mask_inputs
            b.masks, ports = ports[cut:], ports[:cut]
            b.mask = b.masks[0]
            by_mask = {id(t): p for t, p in zip(self.inputs[cut:], b.masks)}
            b.input_masks = [by_mask.get(id(t.mask)) for t in self.data_inputs]
        outs = self.layer.emit(b, ports)
        return outs + ([b.out_mask] if b.out_mask is not None else [])


class Builder:
    """Emits one layer call's ops into a graph, naming nodes and weights after
    the layer and checking weight shapes against the op rules."""

    def __init__(self, graph: Graph, layer: Layer, source: str, call_index: int) -> None:
        self.graph = graph
        self.layer = layer
        self.source = source
        self.call_index = call_index
        self.base = layer.name if call_index == 0 else f"{layer.name}@{call_index}"
        self._count = 0
        self.mask: Port | None = None  # the input's mask, for layers that consume masks
        self.masks: list[Port] = []  # every consumed mask (a merge's several)
        self.input_masks: list[Port | None] = []  # per input, its consumed mask or None
        self.out_mask: Port | None = None  # set by layers that produce a mask

    def for_layer(self, layer: Layer) -> Builder:
        """A builder for a layer a wrapper holds (Bidirectional's two
        directions): the same graph and call, nodes and weights named after
        that layer."""
        inner = Builder(self.graph, layer, self.source, self.call_index)
        inner.mask = self.mask
        return inner

    def add(self, op: OpKind, inputs: Sequence[Port], attrs: Any,
            weights: tuple[str, ...] = (), helper: str | None = None) -> Port:
        """Adds a node of the layer; the first is named after the layer call,
        the next after their op, and a `helper` (an op the layer inserts
        before its own, such as a merge's broadcast) after the call and that
        word."""
        layer = self.layer
        names = tuple(f"{layer.name}/{role}" for role in weights)
        in_types = tuple(self.graph.type_of(p) for p in inputs)
        rule = rule_for(op)
        try:
            rule.infer(attrs, in_types)  # bad input shapes first, in the op's words
            expected = rule.weight_shapes(attrs, in_types) if weights else ()
        except ShapeError as err:
            raise ShapeError(f"{layer.label(self.source)}: {err}") from None
        for role, name, shape in zip(weights, names, expected):
            array = layer._weights[role]
            if tuple(array.shape) != tuple(shape):
                raise ShapeError(f"{layer.label(self.source)}: weight {role!r} has shape "
                                 f"{tuple(array.shape)} but the input {in_types[0]} needs "
                                 f"{tuple(shape)} (was the layer built for another input?)")
            self.graph.weights[name] = array
        if helper is not None:
            node_id = f"{self.base}.{helper}"
        else:
            node_id = self.base if self._count == 0 else f"{self.base}.{op.value}"
            self._count += 1
        node = self.graph.add(op, tuple(inputs), attrs, names, layer.name, layer.kind,
                              self.source, id=node_id)
        return node.port()


class Layer:
    """Base of every layer. Subclasses set their options in `__init__`, create
    weights in `build` and emit IR in `emit`."""

    # Layers that take a list of tensors (merges) set this.
    multi_input = False
    # The dtype of the Input a Sequential creates for this layer when it comes first.
    input_dtype = "float32"
    # What the layer does with a (batch, time) mask on its input, as in Keras:
    # "pass" it on unchanged, "consume" it (the emit reads Builder.mask; see
    # output_mask), or "drop" it. A layer that makes a mask sets Builder.out_mask.
    # Merges decide per call (consumed_masks, output_mask).
    mask_mode = "drop"

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        """Layer classes of layerc.layers register in LAYERS by name, except
        private ones (`_Conv`) and abstract ones (`register=False`)."""
        super().__init_subclass__(**kwargs)
        if register and cls.__module__.startswith("layerc.layers.") \
                and not cls.__name__.startswith("_"):
            LAYERS[cls.__name__] = cls

    def __init__(self, *, name: str | None = None, trainable: bool = True,
                 dtype: Any = None, input_shape: Sequence[int | None] | None = None,
                 batch_input_shape: Sequence[int | None] | None = None,
                 batch_size: int | None = None, input_dim: int | None = None,
                 input_length: int | None = None, **unknown: Any) -> None:
        self.name = name if name is not None else unique_name(to_snake_case(self.kind))
        self.source = user_source()
        if unknown:
            raise ConfigError(f"{self.label()}: unknown option(s) "
                              f"{', '.join(sorted(unknown))}")
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"{self.kind}: name must be a non-empty string, got {name!r}")
        if dtype not in (None, "float32", np.float32) and not (
                isinstance(dtype, dict) and dtype.get("config", {}).get("name") == "float32"):
            raise ConfigError(f"{self.label()}: layerc computes in float32; dtype={dtype!r} "
                              f"is not supported")
        self.trainable = bool(trainable)
        self.batch_input_shape = self._batch_shape(input_shape, batch_input_shape, batch_size,
                                                   input_dim, input_length)
        self._weights: dict[str, np.ndarray] = {}
        self.built = False
        self._nodes: list[LayerNode] = []

    # ----- identity -----
    @property
    def kind(self) -> str:
        return type(self).__name__

    def label(self, source: str | None = None) -> str:
        where = self.source if source is None else source
        return f"{self.name} ({self.kind})" + (f" at {where}" if where else "")

    def _batch_shape(self, input_shape: Any, batch_input_shape: Any, batch_size: Any,
                     input_dim: Any, input_length: Any) -> tuple[int | None, ...] | None:
        if input_shape is None and input_dim is not None:
            input_shape = (input_dim,) if input_length is None else (input_length, input_dim)
        elif input_length is not None:
            raise ConfigError(f"{self.label()}: input_length needs input_dim")
        if batch_input_shape is not None:
            if input_shape is not None:
                raise ConfigError(f"{self.label()}: give input_shape or batch_input_shape, "
                                  f"not both")
            return tuple(batch_input_shape)
        if input_shape is None:
            if batch_size is not None:
                raise ConfigError(f"{self.label()}: batch_size needs input_shape")
            return None
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        return (batch_size, *input_shape)

    # ----- weights -----
    def add_weight(self, role: str, shape: tuple[int, ...], initializer: Any) -> None:
        self._weights[role] = initializers.get(initializer, self.label())(shape)

    def add_weights_for(self, op: OpKind, attrs: Any, in_types: tuple[TensorType, ...],
                        roles: Sequence[tuple[str, Any]]) -> None:
        """Creates the weights op's rule asks for on inputs of `in_types`, in
        the rule's order, each named and initialized by `roles` (role,
        initializer). Inputs the rule refuses create none: the call reports
        them with the layer's name when it emits the op."""
        rule = rule_for(op)
        try:
            rule.infer(attrs, in_types)
            shapes = rule.weight_shapes(attrs, in_types)
        except ShapeError:
            return
        if len(shapes) != len(roles):
            raise ConfigError(f"{self.label()}: {op} takes {len(shapes)} weights, the layer "
                              f"names {len(roles)}")
        for (role, initializer), shape in zip(roles, shapes):
            self.add_weight(role, shape, initializer)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        """Creates the weights for inputs of these types. Layers without weights
        keep this default."""

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self._weights.values()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Loads arrays of exactly the current shapes; changes nothing on error."""
        if not self.built:
            raise ConfigError(f"{self.label()}: the layer is not built yet, so it has no "
                              f"weights to set; call it on an input first")
        expected = [w.shape for w in self._weights.values()]
        weights = list(weights)
        got = [np.shape(w) for w in weights]
        if len(weights) != len(expected) or any(tuple(g) != tuple(e)
                                                for g, e in zip(got, expected)):
            raise ShapeError(f"{self.label()}: set_weights expected {len(expected)} array(s) "
                             f"of shapes {expected}, got {len(weights)} of shapes {got}")
        arrays = [np.array(w, dtype=np.float32) for w in weights]
        self._weights = dict(zip(self._weights, arrays))

    def count_params(self) -> int:
        if not self.built:
            raise ConfigError(f"{self.label()}: count_params needs a built layer; call it on "
                              f"an input first")
        return sum(int(w.size) for w in self._weights.values())

    # ----- calls -----
    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        raise NotImplementedError(f"{self.kind}.emit")

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        source = user_source()
        xs = self._call_inputs(inputs, kwargs, source)
        in_types = tuple(x.type for x in xs)
        if not self.built:
            self.build(in_types)
            self.built = True
        masks = self.consumed_masks(xs)
        reads = xs + masks
        scratch = Graph(self.name)
        ports = [scratch.add(OpKind.INPUT, (), InputAttrs(x.type.sample_shape, x.type.dtype),
                             id=f"in{i}").port() for i, x in enumerate(reads)]
        index = len(self._nodes)
        b = Builder(scratch, self, source, index)
        record = LayerNode(self, tuple(reads), (), source, mask_inputs=len(masks))
        outs = record.emit(b, ports)
        tensors = tuple(SymbolicTensor(scratch.type_of(p), self, index, i)
                        for i, p in enumerate(outs))
        made = b.out_mask is not None
        data = tensors[:-1] if made else tensors
        for i, t in enumerate(data):
            t.mask = tensors[-1] if made else self.output_mask(xs, i)
        self._nodes.append(dataclasses.replace(record, outputs=tensors, mask_output=made))
        return data[0] if len(data) == 1 else list(data)

    def consumed_masks(self, xs: list[SymbolicTensor]) -> list[SymbolicTensor]:
        """The masks a call reads (the emit finds them in Builder.masks)."""
        mask = xs[0].mask
        return [mask] if mask is not None and self.mask_mode == "consume" else []

    def output_mask(self, xs: list[SymbolicTensor], index: int) -> SymbolicTensor | None:
        """The mask of output `index` of a call on `xs`, when the layer makes none."""
        return xs[0].mask if self.mask_mode == "pass" else None

    def _call_inputs(self, inputs: Any, kwargs: dict[str, Any],
                     source: str) -> list[SymbolicTensor]:
        """The symbolic tensors a call reads. Layers with call arguments (an
        RNN's initial_state) override this; the others take none."""
        if kwargs:
            raise ConfigError(f"{self.label(source)}: call arguments "
                              f"{', '.join(sorted(kwargs))} are not supported")
        return self._check_inputs(inputs, source)

    def _check_inputs(self, inputs: Any, source: str) -> list[SymbolicTensor]:
        many = isinstance(inputs, (list, tuple))
        xs = list(inputs) if many else [inputs]
        if self.multi_input and (not many or len(xs) < 2):
            raise ShapeError(f"{self.label(source)}: expects a list of at least 2 inputs, "
                             f"got {inputs!r}")
        if not self.multi_input and many and len(xs) != 1:
            raise ShapeError(f"{self.label(source)}: expects one input, got {len(xs)}")
        for x in xs:
            if not isinstance(x, SymbolicTensor):
                raise ConfigError(f"{self.label(source)}: layers are called on symbolic "
                                  f"tensors (layerc.Input or another layer's output), got "
                                  f"{type(x).__name__}; to compute, build a Model and predict")
        return xs

    # ----- the nodes of a called layer -----
    def _node(self, index: int | None, what: str) -> LayerNode:
        if not self._nodes:
            raise LayerNodeError(f"{self.label()}: has never been called, so it has no {what}")
        if index is None:
            if len(self._nodes) > 1:
                raise LayerNodeError(
                    f"{self.label()}: is shared ({len(self._nodes)} calls), so '{what}' is "
                    f"ambiguous; use get_{what}_at(node_index)")
            index = 0
        if not 0 <= index < len(self._nodes):
            raise LayerNodeError(f"{self.label()}: has {len(self._nodes)} call(s); there is no "
                                 f"node {index}")
        return self._nodes[index]

    @staticmethod
    def _one(tensors: tuple[SymbolicTensor, ...]) -> Any:
        return tensors[0] if len(tensors) == 1 else list(tensors)

    @staticmethod
    def _shapes(tensors: tuple[SymbolicTensor, ...]) -> Any:
        shapes = [t.shape for t in tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input(self) -> Any:
        return self._one(self._node(None, "input").data_inputs)

    @property
    def output(self) -> Any:
        return self._one(self._node(None, "output").data_outputs)

    @property
    def input_shape(self) -> Any:
        return self._shapes(self._node(None, "input_shape").data_inputs)

    @property
    def output_shape(self) -> Any:
        return self._shapes(self._node(None, "output_shape").data_outputs)

    def get_input_at(self, node_index: int) -> Any:
        return self._one(self._node(node_index, "input").data_inputs)

    def get_output_at(self, node_index: int) -> Any:
        return self._one(self._node(node_index, "output").data_outputs)

    def get_input_shape_at(self, node_index: int) -> Any:
        return self._shapes(self._node(node_index, "input_shape").data_inputs)

    def get_output_shape_at(self, node_index: int) -> Any:
        return self._shapes(self._node(node_index, "output_shape").data_outputs)

    # ----- config -----
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": "float32"}
        if self.batch_input_shape is not None:
            config["batch_input_shape"] = tuple(self.batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{self.kind} name={self.name}>"
