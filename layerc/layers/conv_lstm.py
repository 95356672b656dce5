"""ConvLSTM1D, ConvLSTM2D and ConvLSTM3D: an LSTM whose gates are
convolutions, on (batch, steps, *spatial, channels) sequences (or channels
first after the steps).

As Keras 3.15 computes each step: z = conv(x_t, kernel) + bias (the layer's
strides, padding and dilation) + conv(h, recurrent_kernel) (strides 1,
'same'), split into the gates i, f, c, o along the channels; c = f * c +
i * activation(z_c) with i, f, o through recurrent_activation; h = o *
activation(c); h and c start at zero. The layer unrolls its steps into the
IR's convolution, crop (the gate split), activation and merge ops, so both
backends run it with their own kernels (the steps must be known). Kernels
are Keras's: (*kernel_size, channels, 4 * filters) and (*kernel_size,
filters, 4 * filters), gates in the order i, f, c, o.
"""

from __future__ import annotations

from typing import Any

from layerc import activations, initializers
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.conv import ConvAttrs
from layerc.ir.ops.core import ActivationAttrs, ReshapeAttrs
from layerc.ir.ops.merge import ConcatAttrs, MergeAttrs
from layerc.ir.ops.reshaping import CropAttrs
from layerc.layers.base import Builder
from layerc.layers.convolutional import _Windowed
from layerc.layers.core import positive_int

_TRAINING = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
             "activity_regularizer", "kernel_constraint", "recurrent_constraint",
             "bias_constraint")


class _ConvLSTM(_Windowed):
    """`ConvLSTMnD(filters, kernel_size, strides=1, padding="valid",
    data_format=None, dilation_rate=1, activation="tanh",
    recurrent_activation="sigmoid", use_bias=True, return_sequences=False,
    return_state=False, go_backwards=False, ...)`. Refused: stateful,
    initial_state, masks."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1,
                 activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: Any = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        training = {key: kwargs.pop(key, None) for key in _TRAINING}
        super().__init__(**kwargs)
        label = self.label()
        self.filters = positive_int(self, "filters", filters)
        self._window_options(kernel_size, strides, padding, ("valid", "same"), data_format,
                             dilation_rate)
        self.activation = activations.get(activation, label)
        self.recurrent_activation = activations.get(recurrent_activation, label)
        for name, act in (("activation", self.activation),
                          ("recurrent_activation", self.recurrent_activation)):
            if act == "glu":
                raise ConfigError(f"{label}: {name}='glu' is not supported in a recurrent layer")
        if stateful:
            raise ConfigError(f"{label}: stateful=True is not supported for ConvLSTM layers")
        self.use_bias, self.unit_forget_bias = bool(use_bias), bool(unit_forget_bias)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.unroll = bool(go_backwards), bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.dropout, self.recurrent_dropout, self.seed = dropout, recurrent_dropout, seed
        self.initializers = {"kernel": initializers.get(kernel_initializer, label),
                             "recurrent_kernel": initializers.get(recurrent_initializer, label),
                             "bias": initializers.get(bias_initializer, label)}
        self.training_only = training

    # ----- shapes and weights -----
    def _split(self, x: TensorType, source: Any = None) -> tuple[int, tuple[int, ...], int]:
        """(steps, per-step shape, input channels)."""
        if x.rank != self.rank + 3 or None in x.shape[1:]:
            raise ShapeError(f"{self.label(source)}: expected (batch, steps, {self.rank} "
                             f"spatial axes and channels) with known sizes, got {x}")
        step = x.shape[2:]
        channels = step[-1] if self.data_format == "channels_last" else step[0]
        return x.shape[1], step, channels  # type: ignore[return-value]

    def _conv(self, filters: int, recurrent: bool) -> ConvAttrs:
        one = (1,) * self.rank
        if recurrent:
            return ConvAttrs(filters, self.kernel_size, one, "same", one, self.data_format,
                             use_bias=False)
        return ConvAttrs(filters, self.kernel_size, self.strides, self.padding,
                         self.dilation_rate, self.data_format, self.use_bias)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        try:
            _, _, channels = self._split(in_types[0])
        except ShapeError:
            return  # reported with the call's position when emitted
        f = self.filters
        self.add_weight("kernel", (*self.kernel_size, channels, 4 * f),
                        self.initializers["kernel"])
        self.add_weight("recurrent_kernel", (*self.kernel_size, f, 4 * f),
                        self.initializers["recurrent_kernel"])
        if self.use_bias:
            self.add_weight("bias", (4 * f,), self.initializers["bias"])

    def _call_inputs(self, inputs: Any, kwargs: dict[str, Any], source: str) -> list[Any]:
        if kwargs.pop("initial_state", None) is not None:
            raise ConfigError(f"{self.label(source)}: initial_state is not supported for "
                              f"ConvLSTM layers")
        if kwargs.pop("training", None):
            raise ConfigError(f"{self.label(source)}: training=True is not supported")
        xs = super()._call_inputs(inputs, kwargs, source)
        if xs[0].mask is not None:
            raise ConfigError(f"{self.label(source)}: its input carries a mask, which "
                              f"layerc's ConvLSTM layers do not apply")
        return xs

    # ----- IR: the steps unrolled -----
    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        steps, step, _ = self._split(b.graph.type_of(inputs[0]), b.source)
        f = self.filters
        rank = len(step)
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        kernel = ("kernel", "bias") if self.use_bias else ("kernel",)
        h: Port | None = None
        c: Port | None = None
        outs = []
        for n, t in enumerate(order):
            name = f"step{n}"
            frame = b.add(OpKind.CROP, inputs,
                          CropAttrs(((t, steps - 1 - t),) + ((0, 0),) * rank), helper=name)
            frame = b.add(OpKind.RESHAPE, [frame], ReshapeAttrs(step), helper=f"{name}.in")
            z = b.add(OpKind.CONV, [frame], self._conv(4 * f, False), kernel,
                      helper=f"{name}.conv")
            if h is not None:
                r = b.add(OpKind.CONV, [h], self._conv(4 * f, True), ("recurrent_kernel",),
                          helper=f"{name}.recurrent")
                z = b.add(OpKind.ADD, [z, r], MergeAttrs(), helper=f"{name}.z")
            i = self._gate(b, z, 0, self.recurrent_activation, f"{name}.i")
            g = self._gate(b, z, 2, self.activation, f"{name}.g")
            ig = b.add(OpKind.MULTIPLY, [i, g], MergeAttrs(), helper=f"{name}.ig")
            if c is None:
                c = ig
            else:
                forget = self._gate(b, z, 1, self.recurrent_activation, f"{name}.f")
                fc = b.add(OpKind.MULTIPLY, [forget, c], MergeAttrs(), helper=f"{name}.fc")
                c = b.add(OpKind.ADD, [fc, ig], MergeAttrs(), helper=f"{name}.c")
            o = self._gate(b, z, 3, self.recurrent_activation, f"{name}.o")
            cact = _activate(b, c, self.activation, f"{name}.c_act")
            h = b.add(OpKind.MULTIPLY, [o, cact], MergeAttrs(), helper=f"{name}.h")
            if self.return_sequences:
                shape = b.graph.type_of(h).sample_shape
                outs.append(b.add(OpKind.RESHAPE, [h], ReshapeAttrs((1, *shape)),  # type: ignore
                                  helper=f"{name}.out"))
        assert h is not None and c is not None
        if not self.return_sequences:
            output = h
        elif len(outs) == 1:
            output = outs[0]
        else:
            output = b.add(OpKind.CONCATENATE, outs, ConcatAttrs(1), helper="sequence")
        return [output, h, c] if self.return_state else [output]

    def _gate(self, b: Builder, z: Port, k: int, act: str, helper: str) -> Port:
        """Gate k (i, f, c, o) of the stacked pre-activations z, activated."""
        crops = [(0, 0)] * (b.graph.type_of(z).rank - 1)
        crops[-1 if self.data_format == "channels_last" else 0] = (k * self.filters,
                                                                   (3 - k) * self.filters)
        gate = b.add(OpKind.CROP, [z], CropAttrs(tuple(crops)), helper=helper)
        return _activate(b, gate, act, f"{helper}_act")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, **self._window_config(),
                "activation": self.activation, "recurrent_activation": self.recurrent_activation,
                "use_bias": self.use_bias, "unit_forget_bias": self.unit_forget_bias,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": False, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
                **{f"{'recurrent' if role == 'recurrent_kernel' else role}_initializer":
                   initializers.serialize(init) for role, init in self.initializers.items()},
                **self.training_only}


def _activate(b: Builder, x: Port, act: str, helper: str) -> Port:
    return x if act == "linear" else b.add(OpKind.ACTIVATION, [x], ActivationAttrs(act),
                                           helper=helper)


class ConvLSTM1D(_ConvLSTM):
    rank = 1


class ConvLSTM2D(_ConvLSTM):
    rank = 2


class ConvLSTM3D(_ConvLSTM):
    rank = 3


__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]
