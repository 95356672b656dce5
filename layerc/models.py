"""Model (functional graphs) and Sequential."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerc import layers as layers_mod
from layerc.errors import ConfigError, LayerNodeError, ShapeError
from layerc.ir import Graph
from layerc.layers.base import Layer, SymbolicTensor, to_snake_case, unique_name, user_source
from layerc.layers.input_layer import InputLayer
from layerc.trace import layer_nodes, trace


def _flatten(structure: Any, what: str, model: str) -> tuple[list[SymbolicTensor], Any]:
    """Tensors from a tensor, list or dict, and how to rebuild that structure."""
    if isinstance(structure, dict):
        names = list(structure)
        tensors = [structure[n] for n in names]
        shape: Any = names
    elif isinstance(structure, (list, tuple)):
        tensors, shape = list(structure), len(structure)
    else:
        tensors, shape = [structure], None
    for t in tensors:
        if not isinstance(t, SymbolicTensor):
            raise ConfigError(f"model {model}: {what} must be symbolic tensors "
                              f"(layerc.Input or layer outputs), got {type(t).__name__}")
    if not tensors:
        raise ConfigError(f"model {model}: needs at least one of {what}")
    return tensors, shape


class Model:
    """A functional model: `Model(inputs, outputs)` over called layers."""

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.source = user_source()
        if kwargs:
            raise ConfigError(f"model {self.name}: unknown option(s) {', '.join(sorted(kwargs))}")
        self.trainable = trainable
        self._compiled: Any = None
        self._compiled_token: Any = None
        self.compile_options: dict[str, Any] = {}
        if type(self) is Model or inputs is not None:
            if inputs is None or outputs is None:
                raise ConfigError(f"model {self.name}: Model(inputs, outputs) needs both")
            self._set_graph(inputs, outputs)

    def _set_graph(self, inputs: Any, outputs: Any) -> None:
        self._inputs, self._input_structure = _flatten(inputs, "inputs", self.name)
        self._outputs, self._output_structure = _flatten(outputs, "outputs", self.name)
        self._nodes = layer_nodes(self._inputs, self._outputs, self.name)
        seen: dict[str, Layer] = {}
        for node in self._nodes:
            other = seen.setdefault(node.layer.name, node.layer)
            if other is not node.layer:
                raise ConfigError(f"model {self.name}: two layers are named {node.layer.name!r} "
                                  f"({other.label()} and {node.layer.label()}); names must "
                                  f"be unique")
        self._layers = list(seen.values())

    # ----- structure -----
    @property
    def built(self) -> bool:
        return hasattr(self, "_inputs")

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise LayerNodeError(f"model {self.name}: {what} is unknown until the model is "
                                 f"built (give the first layer an input_shape, or call build "
                                 f"or predict)")

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def inputs(self) -> list[SymbolicTensor]:
        self._require_built("inputs")
        return list(self._inputs)

    @property
    def outputs(self) -> list[SymbolicTensor]:
        self._require_built("outputs")
        return list(self._outputs)

    @property
    def input(self) -> Any:
        return self.inputs[0] if len(self.inputs) == 1 else self.inputs

    @property
    def output(self) -> Any:
        return self.outputs[0] if len(self.outputs) == 1 else self.outputs

    @property
    def input_shape(self) -> Any:
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self) -> list[str]:
        return [t.layer.name for t in self.inputs]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ConfigError(f"model {self.name}: no layer at index {index} "
                                  f"({len(self.layers)} layers)")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ConfigError(f"model {self.name}: no layer named {name!r}; layers: "
                          f"{', '.join(layer.name for layer in self.layers)}")

    def to_graph(self) -> Graph:
        """The model traced to the IR, before any pass."""
        self._require_built("the graph")
        return trace(self._inputs, self._outputs, self.name)

    # ----- weights -----
    def _weighted_layers(self) -> list[Layer]:
        return [layer for layer in self.layers if layer._weights]

    def get_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Loads every layer's weights in `get_weights` order; all or nothing."""
        weights = list(weights)
        expected = [w.shape for w in self.get_weights()]
        got = [tuple(np.shape(w)) for w in weights]
        if len(weights) != len(expected) or any(g != e for g, e in zip(got, expected)):
            raise ShapeError(f"model {self.name}: set_weights expected {len(expected)} "
                             f"array(s) of shapes {expected}, got {len(weights)} of shapes {got}")
        start = 0
        for layer in self._weighted_layers():
            n = len(layer._weights)
            layer.set_weights(weights[start:start + n])
            start += n

    def count_params(self) -> int:
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self.layers)

    # ----- compiling and running -----
    def compile(self, optimizer: Any = None, loss: Any = None, **kwargs: Any) -> None:
        """Accepted for Keras source compatibility: layerc is inference-only, so
        the training options are kept but unused. Prepares the compiled model."""
        self.compile_options = {"optimizer": optimizer, "loss": loss, **kwargs}
        if self.built:
            self.compiled()

    def _weights_token(self) -> tuple[int, ...]:
        return tuple(id(w) for layer in self.layers for w in layer._weights.values())

    def compiled(self) -> Any:
        """The CPU-compiled model, rebuilt when weights were set since."""
        from layerc.compiler import compile as compile_model

        if self._compiled is None or self._compiled_token != self._weights_token():
            previous = self._compiled
            self._compiled = compile_model(self)
            self._compiled_token = self._weights_token()
            if previous is not None:  # new weights keep the stateful layers' states
                self._compiled.adopt_states(previous)
        return self._compiled

    def _prepare_predict(self, x: Any) -> None:
        """Sequential builds itself on first data; a functional model is built."""

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto") -> Any:
        self._prepare_predict(x)
        if isinstance(x, dict):
            x = [x[name] for name in self._require_input_names(x)]
        return self.compiled().predict(x, batch_size=batch_size)

    def __call__(self, x: Any) -> Any:
        """On arrays, predict; on symbolic tensors, the model used as a layer."""
        if isinstance(x, SymbolicTensor) or (isinstance(x, (list, tuple, dict)) and x and all(
                isinstance(t, SymbolicTensor) for t in (x.values() if isinstance(x, dict)
                                                        else x))):
            return self._inline(x)
        return self.predict(x)

    def _inline(self, x: Any) -> Any:
        """This model's layer calls replayed on `x`: its layers (and so their
        weights) are shared with every other use of the model, and the outer
        model holds them as its own (Keras keeps a nested model as one layer;
        layerc inlines it)."""
        self._require_built("calling it as a layer")
        if isinstance(x, dict):
            x = [x[name] for name in self._require_input_names(x)]
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(xs) != len(self._inputs):
            raise ShapeError(f"model {self.name}: called as a layer on {len(xs)} tensor(s); it "
                             f"has {len(self._inputs)} input(s)")
        for given, own in zip(xs, self._inputs):
            if given.type != own.type:
                raise ShapeError(f"model {self.name}: input {own.layer.name!r} expects "
                                 f"{own.type}, got {given.type}")
        mapping = {id(own): given for own, given in zip(self._inputs, xs)}
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            ins = [mapping[id(t)] for t in node.data_inputs]
            if node.layer.multi_input:
                out = node.layer(ins)
            elif len(ins) > 1:  # a recurrent layer's initial_state
                out = node.layer(ins[0], initial_state=ins[1:])
            else:
                out = node.layer(ins[0])
            outs = out if isinstance(out, list) else [out]
            for own, made in zip(node.data_outputs, outs):
                mapping[id(own)] = made
        return _restructure([mapping[id(t)] for t in self._outputs], self._output_structure)

    def _require_input_names(self, x: dict) -> list[str]:
        names = self.input_names
        missing = [n for n in names if n not in x]
        extra = [n for n in x if n not in names]
        if missing or extra:
            from layerc.errors import InputError
            raise InputError(f"model {self.name}: inputs by name need exactly {names}; "
                             f"missing {missing}, unknown {extra}")
        return names

    def reset_states(self) -> None:
        for layer in self.layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()  # type: ignore[attr-defined]  # a Recurrent
        if self._compiled is not None:
            self._compiled.reset_states()

    # ----- summary and config -----
    def summary(self, line_length: int | None = None, positions: Any = None,
                print_fn: Any = None, **kwargs: Any) -> None:
        from layerc.summary import summary_text

        text = summary_text(self, line_length or 98)
        (print_fn or print)(text)

    def get_config(self) -> dict[str, Any]:
        self._require_built("the config")
        in_model = {id(n) for n in self._nodes}
        entries = []
        for layer in self.layers:
            inbound = [[[t.layer.name, t.node_index, t.tensor_index] for t in node.data_inputs]
                       for node in layer._nodes if id(node) in in_model and node.inputs]
            entries.append({"class_name": layer.kind, "name": layer.name,
                            "config": layer.get_config(), "inbound_nodes": inbound,
                            "node_indices": [node.outputs[0].node_index for node in layer._nodes
                                             if id(node) in in_model and node.inputs]})
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": entries,
            "input_layers": [[t.layer.name, t.node_index, t.tensor_index] for t in self._inputs],
            "output_layers": [[t.layer.name, t.node_index, t.tensor_index]
                              for t in self._outputs],
            "input_structure": self._input_structure,
            "output_structure": self._output_structure,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        """Rebuilds the layers, then replays their calls as inputs become ready."""
        built = {e["name"]: layers_mod.deserialize(e) for e in config["layers"]}
        tensors: dict[tuple[str, int, int], SymbolicTensor] = {}
        for name, layer in built.items():
            if isinstance(layer, InputLayer):
                tensors[(name, 0, 0)] = layer._nodes[0].outputs[0]
        pending = [(e["name"], old, inbound) for e in config["layers"]
                   for old, inbound in zip(e.get("node_indices", []), e["inbound_nodes"])]
        while pending:
            ready = [p for p in pending if all(tuple(t) in tensors for t in p[2])]
            if not ready:
                raise ConfigError(f"model {config['name']}: the config's layer calls cannot be "
                                  f"replayed (missing inputs for {pending[0][0]!r})")
            for item in ready:
                name, old, inbound = item
                args = [tensors[tuple(t)] for t in inbound]
                out = built[name](args if built[name].multi_input else args[0])
                for i, t in enumerate(out if isinstance(out, list) else [out]):
                    tensors[(name, old, i)] = t
                pending.remove(item)
        ins = _restructure([tensors[tuple(t)] for t in config["input_layers"]],
                           config.get("input_structure"))
        outs = _restructure([tensors[tuple(t)] for t in config["output_layers"]],
                            config.get("output_structure"))
        return cls(ins, outs, name=config["name"], trainable=config.get("trainable", True))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _restructure(tensors: list[SymbolicTensor], structure: Any) -> Any:
    if structure is None:
        return tensors[0]
    if isinstance(structure, list):
        return dict(zip(structure, tensors))
    return tensors


class Sequential(Model):
    """A linear stack of layers; built as soon as the input shape is known."""

    def __init__(self, layers: Sequence[Any] | None = None, name: str | None = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._stack: list[Layer] = []
        self._input_layer: InputLayer | None = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def add(self, layer: Any) -> None:
        if isinstance(layer, SymbolicTensor) and isinstance(layer.layer, InputLayer):
            layer = layer.layer
        if isinstance(layer, Sequential):  # its layers, shared with it
            for inner in layer.layers:
                self.add(inner)
            return
        if isinstance(layer, Model):
            raise ConfigError(f"model {self.name}: a functional model {layer.name!r} cannot be "
                              f"a layer of a Sequential; call it in a functional model "
                              f"(y = {layer.name}(x)) or add a Sequential")
        if not isinstance(layer, Layer):
            raise ConfigError(f"model {self.name}: add() takes a layer, got "
                              f"{type(layer).__name__}")
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ConfigError(f"model {self.name}: an InputLayer must come first")
            self._input_layer = layer
            self._set_graph(layer._nodes[0].outputs[0], layer._nodes[0].outputs[0])
            return
        if not self.built and not self._stack and layer.batch_input_shape is not None:
            self._input_layer = InputLayer(batch_shape=layer.batch_input_shape,
                                           dtype=layer.input_dtype)
            tensor = self._input_layer._nodes[0].outputs[0]
            self._set_graph(tensor, tensor)
        if self.built:
            out = layer(self._outputs[0])
            if isinstance(out, list):
                raise ConfigError(f"model {self.name}: {layer.label()} has several outputs; "
                                  f"Sequential needs one (use the functional Model)")
            self._stack.append(layer)
            self._set_graph(self._inputs[0], out)
        else:
            self._stack.append(layer)
        self._compiled = None

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Builds the stack for inputs of this shape (batch axis first)."""
        if self.built:
            return
        shape = tuple(input_shape)
        dtype = self._stack[0].input_dtype if self._stack else "float32"
        layer = InputLayer(batch_shape=(None, *shape[1:]), dtype=dtype)
        stack, self._stack = self._stack, []
        self._input_layer = None
        self.add(layer)
        for item in stack:
            self.add(item)

    def _prepare_predict(self, x: Any) -> None:
        if not self.built:
            shape = np.shape(x[0] if isinstance(x, (list, tuple)) else x)
            self.build(shape)

    def _set_graph(self, inputs: Any, outputs: Any) -> None:
        super()._set_graph(inputs, outputs)
        self._layers = list(self._stack)

    def get_config(self) -> dict[str, Any]:
        entries = [layers_mod.serialize(layer) for layer in self._stack]
        if self._input_layer is not None:
            entries.insert(0, layers_mod.serialize(self._input_layer))
        return {"name": self.name, "trainable": self.trainable, "layers": entries}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            model.add(layers_mod.deserialize(entry))
        return model
