"""Recurrent layers: SimpleRNN, GRU, LSTM (and the abstract base Recurrent)."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from layerc import activations, initializers
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.recurrent import STATES, RecurrentAttrs
from layerc.layers.base import Builder, Layer, SymbolicTensor
from layerc.layers.core import positive_int

_TRAINING_ONLY = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                  "activity_regularizer", "kernel_constraint", "recurrent_constraint",
                  "bias_constraint")


class Recurrent(Layer, register=False):
    """The abstract base of the recurrent layers; use SimpleRNN, GRU or LSTM."""

    cell = ""
    mask_mode = "consume"

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: Any = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 use_cudnn: Any = "auto", zero_output_for_mask: bool = False,
                 **kwargs: Any) -> None:
        if not self.cell:
            raise ConfigError("Recurrent is an abstract base class; use SimpleRNN, GRU or LSTM")
        training_only = {k: kwargs.pop(k, None) for k in _TRAINING_ONLY}
        if kwargs.get("input_dim") is not None and kwargs.get("input_length") is None \
                and kwargs.get("input_shape") is None:  # Keras 1: any number of steps
            kwargs["input_shape"] = (None, kwargs.pop("input_dim"))
        super().__init__(**kwargs)
        label = self.label()
        self.units = positive_int(self, "units", units)
        self.activation = activations.get(activation, label)
        self.recurrent_activation = activations.get(recurrent_activation, label)
        if "glu" in (self.activation, self.recurrent_activation):
            raise ConfigError(f"{label}: glu halves its input's width, so it cannot be a "
                              f"recurrent cell's activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, label)
        self.recurrent_initializer = initializers.get(recurrent_initializer, label)
        self.bias_initializer = initializers.get(bias_initializer, label)
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or \
                    not 0 <= rate <= 1:
                raise ConfigError(f"{label}: {name} must be in [0, 1], got {rate!r}")
        self.dropout, self.recurrent_dropout, self.seed = float(dropout), \
            float(recurrent_dropout), seed  # identity at inference
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        if self.zero_output_for_mask and not self.return_sequences:
            raise ConfigError(f"{label}: zero_output_for_mask=True is supported with "
                              f"return_sequences=True only (Keras would also zero the last "
                              f"output when the last step is masked)")
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # the same numbers either way
        self.use_cudnn = use_cudnn
        self.training_only = training_only
        self.reset_after = True
        self._runtimes: list[weakref.ref] = []  # compiled models holding our states

    # ----- weights -----
    def _roles(self) -> list[tuple[str, Any]]:
        roles = [("kernel", self.kernel_initializer),
                 ("recurrent_kernel", self.recurrent_initializer)]
        return roles + ([("bias", self.bias_initializer)] if self.use_bias else [])

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        # The call's inputs here: the sequence, then any initial states (the
        # mask joins later, and changes no weight).
        attrs = self._attrs(has_mask=False, has_initial_state=len(in_types) > 1)
        self.add_weights_for(OpKind.RECURRENT, attrs, in_types, self._roles())

    def _attrs(self, has_mask: bool, has_initial_state: bool) -> RecurrentAttrs:
        return RecurrentAttrs(self.cell, self.units, self.activation, self.recurrent_activation,
                              self.use_bias, self.return_sequences, self.return_state,
                              self.go_backwards, self.reset_after, self.stateful, has_mask,
                              has_initial_state, self.zero_output_for_mask)

    # ----- calls -----
    def _call_inputs(self, inputs: Any, kwargs: dict[str, Any],
                     source: str) -> list[SymbolicTensor]:
        initial_state = kwargs.pop("initial_state", None)
        xs = super()._call_inputs(inputs, kwargs, source)
        if initial_state is None:
            return xs
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
            else [initial_state]
        if len(states) != STATES[self.cell] or not all(isinstance(s, SymbolicTensor)
                                                        for s in states):
            raise ShapeError(f"{self.label(source)}: initial_state must be "
                             f"{STATES[self.cell]} symbolic tensor(s), got {initial_state!r}")
        if self.stateful:
            raise ConfigError(f"{self.label(source)}: a stateful layer keeps its own states; "
                              f"initial_state is not supported with stateful=True")
        return xs + states

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        has_states = len(inputs) > 1
        weights = tuple(role for role, _ in self._roles())
        reads = [inputs[0]] + ([b.mask] if b.mask is not None else []) + inputs[1:]
        attrs = self._attrs(b.mask is not None, has_states)
        first = b.add(OpKind.RECURRENT, reads, attrs, weights)
        count = 1 + (STATES[self.cell] if self.return_state else 0)
        return [Port(first.node, i) for i in range(count)]

    def output_mask(self, xs: list[SymbolicTensor], index: int) -> SymbolicTensor | None:
        """The mask flows on with the sequence output; it ends with the last step."""
        return xs[0].mask if index == 0 and self.return_sequences else None

    # ----- states of stateful layers -----
    def reset_states(self, states: Any = None) -> None:
        """Zeros this layer's states in every compiled model, or sets them to
        `states` (arrays of shape (batch, units), one per state)."""
        if not self.stateful:
            raise ConfigError(f"{self.label()}: reset_states needs stateful=True")
        for ref in self._runtimes:
            runtime = ref()
            if runtime is not None:
                runtime.set_layer_states(self.name, states)
        # Kept for models compiled later (states set before the first predict).
        self._initial_states = None if states is None else [np.array(v, np.float32)
                                                            for v in states]

    def _attach(self, runtime: Any) -> None:
        self._runtimes = [r for r in self._runtimes if r() is not None]
        self._runtimes.append(weakref.ref(runtime))
        if self._initial_states is not None:
            runtime.set_layer_states(self.name, self._initial_states)

    _initial_states: list[np.ndarray] | None = None

    # ----- config -----
    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll, "use_cudnn": self.use_cudnn,
                "zero_output_for_mask": self.zero_output_for_mask,
                **self.training_only}


class SimpleRNN(Recurrent):
    cell = "simple_rnn"

    def __init__(self, units: int, activation: Any = "tanh", **kwargs: Any) -> None:
        refused = kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)
        if refused is not None:
            raise ConfigError(f"{self.label()}: SimpleRNN has no recurrent_activation")


class GRU(Recurrent):
    cell = "gru"

    def __init__(self, units: int, reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}


class LSTM(Recurrent):
    cell = "lstm"

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        super().build(in_types)
        if self.use_bias and self.unit_forget_bias and "bias" in self._weights:
            bias = self._weights["bias"].copy()
            bias[self.units: 2 * self.units] = 1.0  # Keras: forget-gate bias starts at 1
            self._weights["bias"] = bias.astype(np.float32)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}


# ----- cells, for RNN(cell) (layers/wrappers.py) -----
class _Cell:
    """A recurrent cell's options (Keras's SimpleRNNCell, GRUCell, LSTMCell):
    what RNN(cell) runs at each step. layerc runs a cell as its layer."""

    layer: type[Recurrent]

    def __init__(self, units: int, **options: Any) -> None:
        for key in ("return_sequences", "return_state", "go_backwards", "stateful"):
            if key in options:
                raise ConfigError(f"{type(self).__name__}: {key} is an option of the RNN "
                                  f"layer, not of its cell")
        self.units = units
        self.options = options
        self.name = options.pop("name", None)
        self.layer(units, **options)  # the options' checks, now

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, **self.options,
                **({"name": self.name} if self.name else {})}


class SimpleRNNCell(_Cell):
    layer = SimpleRNN


class GRUCell(_Cell):
    layer = GRU


class LSTMCell(_Cell):
    layer = LSTM


class StackedRNNCells:
    """Cells run one after the other at each step (the first's output is the
    second's input); RNN(StackedRNNCells(...)) returns the last cell's output
    and every cell's states."""

    def __init__(self, cells: Any, **kwargs: Any) -> None:
        cells = list(cells)
        if not cells or not all(isinstance(c, _Cell) for c in cells):
            raise ConfigError(f"StackedRNNCells: expects SimpleRNNCell, GRUCell or LSTMCell "
                              f"objects, got {cells!r}")
        self.cells = cells
        self.name = kwargs.pop("name", None)
        if kwargs:
            raise ConfigError(f"StackedRNNCells: unknown option(s) {', '.join(sorted(kwargs))}")


__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "Recurrent", "SimpleRNN", "SimpleRNNCell",
           "StackedRNNCells"]
