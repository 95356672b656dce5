"""Layer wrappers: Bidirectional (a recurrent layer run both ways, merged),
TimeDistributed (a layer applied to every time step) and RNN (cells run over
a sequence)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.core import ReshapeAttrs
from layerc.ir.ops.merge import ConcatAttrs, MergeAttrs
from layerc.ir.ops.reshaping import CropAttrs, ReverseAttrs
from layerc.layers.base import Builder, Layer
from layerc.layers.recurrent import (GRUCell, LSTMCell, Recurrent, SimpleRNNCell, StackedRNNCells,
                                     _Cell)

MERGE_MODES = {"concat": OpKind.CONCATENATE, "sum": OpKind.ADD, "mul": OpKind.MULTIPLY,
               "ave": OpKind.AVERAGE, None: None}


def _recreated(layer: Recurrent, name: str, **changes: Any) -> Recurrent:
    """A fresh layer with `layer`'s options, renamed (Keras recreates both
    directions from the given layer's config)."""
    config = {**layer.get_config(), **changes, "name": name}
    return type(layer).from_config(config)  # type: ignore[return-value]


class Bidirectional(Layer):
    """Keras's Bidirectional: `forward_<name>` runs the sequence as given,
    `backward_<name>` (a copy with go_backwards flipped, or `backward_layer`)
    from its end; with return_sequences the backward outputs are put back
    in time order; the two are merged by `merge_mode` (concat on the last
    axis, sum, mul, ave, or None: both returned); return_state adds the
    forward states, then the backward ones. Weights: the forward layer's,
    then the backward layer's. A mask reaches both directions; with
    return_sequences a masked step's outputs are zeros (Keras sets
    zero_output_for_mask on both)."""

    mask_mode = "consume"

    def __init__(self, layer: Any, merge_mode: str | None = "concat", weights: Any = None,
                 backward_layer: Any = None, **kwargs: Any) -> None:
        from layerc.layers import deserialize

        super().__init__(**kwargs)
        label = self.label()
        layer = deserialize(layer) if isinstance(layer, dict) else layer
        backward_layer = deserialize(backward_layer) if isinstance(backward_layer, dict) \
            else backward_layer
        if not isinstance(layer, Recurrent) or (backward_layer is not None and not isinstance(
                backward_layer, Recurrent)):
            raise ConfigError(f"{label}: wraps a recurrent layer (SimpleRNN, GRU, LSTM), got "
                              f"{type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ConfigError(f"{label}: merge_mode must be one of 'concat', 'sum', 'mul', "
                              f"'ave' or None, got {merge_mode!r}")
        if weights is not None:
            raise ConfigError(f"{label}: weights= is not supported; call set_weights after "
                              f"building")
        if layer.stateful:
            raise ConfigError(f"{label}: a stateful wrapped layer is not supported")
        # Keras zeroes masked steps' outputs in both directions when they
        # return sequences (zero_output_for_mask = return_sequences).
        zero = layer.return_sequences
        self.forward_layer = _recreated(layer, f"forward_{layer.name.removeprefix('forward_')}",
                                        zero_output_for_mask=zero)
        self.backward_layer = backward_layer if backward_layer is not None else _recreated(
            layer, f"backward_{layer.name.removeprefix('backward_')}",
            go_backwards=not layer.go_backwards, zero_output_for_mask=zero)
        if backward_layer is not None:  # a given one too, as Keras does
            backward_layer.zero_output_for_mask = backward_layer.return_sequences
        for attr in ("return_sequences", "return_state", "stateful"):
            if getattr(self.forward_layer, attr) != getattr(self.backward_layer, attr):
                raise ConfigError(f"{label}: the forward and backward layers differ in {attr}")
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ConfigError(f"{label}: the forward and backward layers must differ in "
                              f"go_backwards")
        self.merge_mode = merge_mode
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self._given_backward = backward_layer is not None

    # ----- weights: the two layers' -----
    @property
    def _weights(self) -> dict[str, np.ndarray]:
        if not hasattr(self, "backward_layer"):
            return {}
        return {**{f"forward/{r}": w for r, w in self.forward_layer._weights.items()},
                **{f"backward/{r}": w for r, w in self.backward_layer._weights.items()}}

    @_weights.setter
    def _weights(self, values: dict[str, np.ndarray]) -> None:
        for key, value in values.items():
            side, role = key.split("/", 1)
            layer = self.forward_layer if side == "forward" else self.backward_layer
            layer._weights[role] = value

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        for layer in (self.forward_layer, self.backward_layer):
            layer.build(in_types)
            layer.built = True

    # ----- calls -----
    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        forward = self.forward_layer.emit(b.for_layer(self.forward_layer), inputs)
        backward = self.backward_layer.emit(b.for_layer(self.backward_layer), inputs)
        y, y_rev = forward[0], backward[0]
        if self.return_sequences:
            y_rev = b.add(OpKind.REVERSE, [y_rev], ReverseAttrs(1), helper="reverse")
        if self.merge_mode is None:
            outputs = [y, y_rev]
        else:
            op = MERGE_MODES[self.merge_mode]
            rank = b.graph.type_of(y).rank
            attrs = ConcatAttrs(rank - 1) if op is OpKind.CONCATENATE else MergeAttrs()
            outputs = [b.add(op, [y, y_rev], attrs)]  # type: ignore[arg-type]
        return outputs + forward[1:] + backward[1:]

    def output_mask(self, xs: Any, index: int) -> Any:
        """Keras: the sequences keep the mask; states and last outputs do not."""
        sequences = 2 if self.merge_mode is None else 1
        return xs[0].mask if self.return_sequences and index < sequences else None

    def get_config(self) -> dict[str, Any]:
        from layerc.layers import serialize

        config = {**super().get_config(), "layer": serialize(self.forward_layer),
                  "merge_mode": self.merge_mode}
        if self._given_backward:
            config["backward_layer"] = serialize(self.backward_layer)
        return config


# Layers that act on the last axis alone and take any rank: TimeDistributed
# applies them to the whole (batch, steps, ...) input at once.
PER_POSITION = ("Dense", "Activation", "Dropout", "ReLU", "LeakyReLU", "ELU", "Rescaling")


class TimeDistributed(Layer):
    """Keras's TimeDistributed: `layer` applied to every step of a (batch,
    steps, ...) input with its weights shared across steps. A layer that
    acts on the last axis alone (Dense, Activation, Dropout, ReLU, LeakyReLU,
    ELU, Rescaling) runs once over the whole input; any other runs once per
    step (the step cut out, the layer applied, the results stacked), so its
    IR grows with the number of steps. A mask passes through, as in Keras."""

    mask_mode = "pass"

    def __init__(self, layer: Any, **kwargs: Any) -> None:
        from layerc.layers import deserialize

        super().__init__(**kwargs)
        layer = deserialize(layer) if isinstance(layer, dict) else layer
        if not isinstance(layer, Layer) or layer.multi_input:
            raise ConfigError(f"{self.label()}: wraps a single-input layer, got {layer!r}")
        if getattr(layer, "stateful", False):
            raise ConfigError(f"{self.label()}: a stateful wrapped layer is not supported")
        self.layer = layer

    @property
    def mask_unused(self) -> bool:
        """Keras hands TimeDistributed the mask, which reaches only a wrapped
        layer that takes masks; layerc refuses those (from_keras then sees a
        mask it would not apply) and passes the mask on past the others."""
        return self.layer.mask_mode != "consume"

    @property
    def _weights(self) -> dict[str, np.ndarray]:
        return self.layer._weights if hasattr(self, "layer") else {}

    @_weights.setter
    def _weights(self, values: dict[str, np.ndarray]) -> None:
        if values:
            self.layer._weights = dict(values)

    @staticmethod
    def _step_type(x: TensorType) -> TensorType:
        return TensorType((x.shape[0], *x.shape[2:]), x.dtype)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        x = in_types[0]
        if x.rank < 3:
            return  # reported with the call's position when the op is emitted
        self.layer.build((self._step_type(x),))
        self.layer.built = True

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        x = b.graph.type_of(inputs[0])
        if x.rank < 3:
            raise ShapeError(f"{self.label(b.source)}: expected (batch, steps, ...), got {x}")
        if self.layer.kind in PER_POSITION:
            return self.layer.emit(b.for_layer(self.layer), inputs)
        if x.shape[1] is None:  # specialized per length at predict time
            raise ShapeError(f"{self.label(b.source)}: {self.layer.label()} runs once per "
                             f"step, so the steps must be known, got {x}")
        steps = x.shape[1]
        rest = x.sample_shape[1:]
        outs = []
        for t in range(steps):
            crops = ((t, steps - 1 - t),) + ((0, 0),) * len(rest)
            frame = b.add(OpKind.CROP, inputs, CropAttrs(crops), helper=f"step{t}")
            frame = b.add(OpKind.RESHAPE, [frame], ReshapeAttrs(rest),  # type: ignore[arg-type]
                          helper=f"step{t}.in")
            inner = Builder(b.graph, self.layer, b.source, b.call_index * steps + t)
            (y,) = self.layer.emit(inner, [frame])
            shape = b.graph.type_of(y).sample_shape
            outs.append(b.add(OpKind.RESHAPE, [y], ReshapeAttrs((1, *shape)),  # type: ignore
                              helper=f"step{t}.out"))
        if steps == 1:
            return outs
        return [b.add(OpKind.CONCATENATE, outs, ConcatAttrs(1))]

    def get_config(self) -> dict[str, Any]:
        from layerc.layers import serialize

        return {**super().get_config(), "layer": serialize(self.layer)}



class RNN(Layer):
    """Keras's RNN(cell). One cell is its layer: `RNN(LSTMCell(8), ...)` is an
    `LSTM(8, ...)` (states, initial_state, masks and stateful as that layer's).
    A StackedRNNCells runs as a stack of those layers, each returning its
    sequence to the next (Keras runs every cell at each step: the same
    numbers, a mask reaching every cell), the last one's output returned,
    with return_state every cell's states in order; weights: the cells' in
    order. go_backwards, stateful and initial_state are refused for stacked
    cells."""

    mask_mode = "consume"

    def __new__(cls, cell: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(cell, _Cell):
            options = {**cell.options, **kwargs}
            if cell.name and "name" not in options:
                options["name"] = cell.name
            return cell.layer(cell.units, *args, **options)
        return super().__new__(cls)

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        if not isinstance(cell, StackedRNNCells):
            raise ConfigError(f"{label}: cell must be a SimpleRNNCell, GRUCell, LSTMCell or "
                              f"StackedRNNCells, got {type(cell).__name__}")
        if go_backwards or stateful:
            raise ConfigError(f"{label}: go_backwards and stateful are not supported with "
                              f"StackedRNNCells (use one cell, or stacked layers)")
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.unroll, self.zero_output_for_mask = bool(unroll), bool(zero_output_for_mask)
        last = len(cell.cells) - 1
        self.layers = [c.layer(c.units, **c.options, name=c.name or f"{self.name}_cell{i}",
                               return_sequences=return_sequences if i == last else True,
                               return_state=return_state,
                               zero_output_for_mask=zero_output_for_mask if i == last
                               else False)
                       for i, c in enumerate(cell.cells)]

    @property
    def _weights(self) -> dict[str, np.ndarray]:
        return {f"{i}/{r}": w for i, layer in enumerate(getattr(self, "layers", []))
                for r, w in layer._weights.items()}

    @_weights.setter
    def _weights(self, values: dict[str, np.ndarray]) -> None:
        for key, value in values.items():
            index, role = key.split("/", 1)
            self.layers[int(index)]._weights[role] = value

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        types = in_types
        for layer in self.layers:
            layer.build(types)
            layer.built = True
            batch, steps = types[0].shape[:2]
            types = (TensorType((batch, steps, layer.units)),)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        states: list[Port] = []
        ports = inputs
        for layer in self.layers:
            outs = layer.emit(b.for_layer(layer), ports)
            ports, states = [outs[0]], states + outs[1:]
        return ports + states

    def output_mask(self, xs: Any, index: int) -> Any:
        return xs[0].mask if self.return_sequences and index == 0 else None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask,
                "cell": {"class_name": "StackedRNNCells", "config": {"cells": [
                    {"class_name": type(c).__name__, "config": c.get_config()}
                    for c in self.cell.cells]}}}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """`cell` as get_config writes it (a StackedRNNCells of cell configs)."""
        config = dict(config)
        cell = config.get("cell")
        if isinstance(cell, dict):
            config["cell"] = _cell_from_config(cell)
        return cls(**config)


def _cell_from_config(data: dict[str, Any]) -> Any:
    classes = {"SimpleRNNCell": SimpleRNNCell, "GRUCell": GRUCell, "LSTMCell": LSTMCell}
    name, config = data.get("class_name"), dict(data.get("config", {}))
    if name == "StackedRNNCells":
        return StackedRNNCells([_cell_from_config(c) for c in config.get("cells", [])])
    if name not in classes:
        raise ConfigError(f"RNN: unknown cell class {name!r}")
    return classes[name](**config)


__all__ = ["Bidirectional", "RNN", "TimeDistributed"]
