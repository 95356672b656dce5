"""EinsumDense: Keras's einsum-equation projection, run as a Dense.

An equation `input,kernel->output` whose input keeps some axes (the batch
first) and contracts the others with the kernel, and whose output is the
kept axes in their order followed by the kernel's other axes, is a Dense
over the contracted axes: the input is transposed (if the contracted axes
are not last, in the kernel's order) and reshaped to (kept..., contracted),
the Dense gives (kept..., kernel axes), reshaped to the output. The kernel is
kept in that Dense layout (Keras's transposed and flattened) and the bias
spread over the kernel's output axes; get_weights and set_weights show
Keras's shapes. Equations outside that form (an axis in the input, the
kernel and the output: a batched product; an axis summed away; kept and
kernel axes interleaved in the output) are refused.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from layerc import activations, initializers
from layerc.errors import ConfigError, ShapeError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.core import DenseAttrs, ReshapeAttrs, TransposeAttrs
from layerc.layers.base import Builder, Layer
from layerc.layers.core import TRAINING_ONLY, emit_activation


class EinsumDense(Layer):
    """`EinsumDense(equation, output_shape, activation=None, bias_axes=None,
    kernel_initializer="glorot_uniform", bias_initializer="zeros", ...)`."""

    mask_mode = "pass"

    def __init__(self, equation: str, output_shape: Any, activation: Any = None,
                 bias_axes: str | None = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None,
                 lora_rank: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        label = self.label()
        found = re.fullmatch(r"((?:\.\.\.)?[a-zA-Z]+),([a-zA-Z]+)->((?:\.\.\.)?[a-zA-Z]+)",
                             equation.replace(" ", "")) if isinstance(equation, str) else None
        if found is None:
            raise ConfigError(f"{label}: equation {equation!r} is not of the form 'ab,bc->ac' "
                              f"(a leading '...' on the input and output allowed)")
        self.equation = equation
        self._specs = found.groups()
        shape = [output_shape] if isinstance(output_shape, int) else list(output_shape)
        if any(d is not None and (isinstance(d, bool) or not isinstance(d, int) or d <= 0)
               for d in shape):
            raise ConfigError(f"{label}: output_shape must be positive ints or None, got "
                              f"{output_shape!r}")
        self.partial_output_shape = tuple(shape)
        self.activation = activations.get(activation, label)
        if bias_axes is not None and (not isinstance(bias_axes, str) or not bias_axes):
            raise ConfigError(f"{label}: bias_axes must be a string of output axes, got "
                              f"{bias_axes!r}")
        self.bias_axes = bias_axes
        if lora_rank:
            raise ConfigError(f"{label}: lora_rank is not supported (layerc is inference-only; "
                              f"merge the LoRA weights into the kernel)")
        self.kernel_initializer = initializers.get(kernel_initializer, label)
        self.bias_initializer = initializers.get(bias_initializer, label)
        self.training_only = dict(zip(TRAINING_ONLY, (
            kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            bias_constraint)))
        self._plan: dict[str, Any] | None = None

    # ----- the equation as a Dense -----
    def _analyze(self, x: TensorType) -> dict[str, Any]:
        label = self.label()
        source, kernel, out = self._specs
        partial = self.partial_output_shape
        if source.startswith("...") != out.startswith("..."):
            raise ConfigError(f"{label}: equation {self.equation!r}: '...' must lead both the "
                              f"input and the output")
        if source.startswith("..."):
            free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in self.equation]
            elided = "".join(free[: x.rank - (len(source) - 3)])
            source, out = elided + source[3:], elided + out[3:]
            partial = (None,) * (len(elided) - 1) + partial  # Keras leaves them out
        if len(source) != x.rank or len(set(source)) != len(source) or \
                len(set(kernel)) != len(kernel) or len(set(out)) != len(out):
            raise ShapeError(f"{label}: equation {self.equation!r} does not fit the input {x} "
                             f"(one letter per axis, none repeated)")
        contracted = [c for c in kernel if c in source and c not in out]
        kept = [c for c in source if c not in kernel]
        own = [c for c in kernel if c not in source]
        odd = [c for c in source if c in kernel and c in out] + \
            [c for c in source + kernel if c not in out and c not in contracted] + \
            [c for c in out if c not in source + kernel]
        if odd or source[0] not in kept or out[: len(kept)] != "".join(kept):
            raise ConfigError(f"{label}: equation {self.equation!r} is not a Dense: layerc "
                              f"runs equations whose output is the input's kept axes (the "
                              f"batch first, in order) and then the kernel's own axes, the "
                              f"other input axes contracted with the kernel")
        if len(partial) != len(out) - 1:
            raise ShapeError(f"{label}: output_shape {self.partial_output_shape} must have "
                             f"{len(out) - 1 - (len(partial) - len(self.partial_output_shape))}"
                             f" axes for {self.equation!r}")
        size = dict(zip(source, x.shape))
        for c, d in zip(out[1:], partial):
            if c in size and d is not None and size[c] is not None and d != size[c]:
                raise ShapeError(f"{label}: output_shape {self.partial_output_shape} gives "
                                 f"axis {c!r} {d}, the input {x} has {size[c]}")
            if c not in size:
                if d is None:
                    raise ShapeError(f"{label}: output_shape must give the kernel's axis "
                                     f"{c!r}, got None")
                size[c] = d
        if any(size[c] is None for c in contracted):
            raise ShapeError(f"{label}: the contracted axes of {x} must be known")
        bias_shape = None
        if self.bias_axes is not None:
            if any(c not in out for c in self.bias_axes):
                raise ConfigError(f"{label}: bias_axes {self.bias_axes!r} must be output axes "
                                  f"of {self.equation!r}")
            first = min(out.index(c) for c in self.bias_axes)
            if first < len(kept):
                raise ConfigError(f"{label}: bias_axes {self.bias_axes!r}: layerc adds a bias "
                                  f"over the kernel's own axes only ({''.join(own)})")
            bias_shape = tuple(size[c] if c in self.bias_axes else 1 for c in out[first:])
        return {"source": source, "kernel": kernel, "out": out, "kept": kept,
                "contracted": contracted, "own": out[len(kept):], "size": size,
                "bias_shape": bias_shape}

    def _sizes(self, letters: Any) -> tuple[int, ...]:
        assert self._plan is not None
        return tuple(self._plan["size"][c] for c in letters)

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        self._plan = plan = self._analyze(in_types[0])
        k = math.prod(self._sizes(plan["contracted"]))
        n = math.prod(self._sizes(plan["own"]))
        self.add_weight("kernel", (k, n), self.kernel_initializer)
        if plan["bias_shape"] is not None:
            self._weights["bias"] = self._spread(self.bias_initializer(plan["bias_shape"]))

    # ----- weights: Keras's shapes outside, the Dense's inside -----
    def _kernel_order(self) -> list[int]:
        """Keras's kernel axes in the Dense's order (contracted, then own)."""
        assert self._plan is not None
        return [self._plan["kernel"].index(c) for c in
                self._plan["contracted"] + list(self._plan["own"])]

    def _spread(self, bias: np.ndarray) -> np.ndarray:
        """Keras's bias (over the output from its first bias axis) over the
        kernel's own axes, flat."""
        own = self._sizes(self._plan["own"])  # type: ignore[index]
        return np.ascontiguousarray(np.broadcast_to(bias, own), np.float32).reshape(-1)

    def _keras_weights(self, kernel: np.ndarray, bias: np.ndarray | None) -> list[np.ndarray]:
        plan = self._plan
        assert plan is not None
        order = self._kernel_order()
        shaped = kernel.reshape([self._sizes(plan["kernel"])[i] for i in order])
        out = [np.ascontiguousarray(np.transpose(shaped, np.argsort(order)))]
        if bias is not None:
            full = bias.reshape(self._sizes(plan["own"]))
            lead = len(plan["own"]) - len(plan["bias_shape"])
            index = (0,) * lead + tuple(slice(None) if d > 1 else slice(0, 1)
                                        for d in plan["bias_shape"])
            out.append(np.ascontiguousarray(full[index]).reshape(plan["bias_shape"]))
        return out

    def get_weights(self) -> list[np.ndarray]:
        if not self.built:
            return []
        return self._keras_weights(self._weights["kernel"], self._weights.get("bias"))

    def set_weights(self, weights: Any) -> None:
        weights = [np.asarray(w, np.float32) for w in weights]
        if self.built and [w.shape for w in weights] == [w.shape for w in self.get_weights()]:
            plan = self._plan
            assert plan is not None
            kernel = np.transpose(weights[0], self._kernel_order()).reshape(
                self._weights["kernel"].shape)
            weights = [kernel] + [self._spread(w) for w in weights[1:]]
        super().set_weights(weights)

    # ----- IR -----
    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        x = inputs[0]
        plan = self._analyze(b.graph.type_of(x))
        kept, contracted, own = plan["kept"], plan["contracted"], plan["own"]
        source = plan["source"]
        perm = tuple(source.index(c) for c in kept + contracted)
        if perm != tuple(range(len(perm))):
            x = b.add(OpKind.TRANSPOSE, [x], TransposeAttrs(perm), helper="transpose")
        k = math.prod(self._sizes(contracted))
        n = math.prod(self._sizes(own))
        middle = self._sizes(kept[1:])
        if len(contracted) != 1:
            x = b.add(OpKind.RESHAPE, [x], ReshapeAttrs((*middle, k)), helper="flatten")
        use_bias = "bias" in self._weights
        y = b.add(OpKind.DENSE, [x], DenseAttrs(n, use_bias),
                  ("kernel", "bias") if use_bias else ("kernel",))
        if len(own) != 1:
            y = b.add(OpKind.RESHAPE, [y], ReshapeAttrs((*middle, *self._sizes(own))),
                      helper="unflatten")
        return [emit_activation(b, y, self.activation)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "equation": self.equation,
                "output_shape": list(self.partial_output_shape),
                "activation": self.activation, "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **self.training_only}


__all__ = ["EinsumDense"]
