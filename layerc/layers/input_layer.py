"""InputLayer and `Input`: the entry points of a functional graph."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from layerc.errors import ConfigError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.core import InputAttrs
from layerc.layers.base import Builder, Layer, LayerNode, SymbolicTensor, user_source

_DTYPES = ("float32", "int32", "int64")


class InputLayer(Layer):
    def __init__(self, shape: Sequence[int | None] | None = None, batch_size: int | None = None,
                 dtype: Any = None, batch_shape: Sequence[int | None] | None = None,
                 name: str | None = None, sparse: Any = None, **kwargs: Any) -> None:
        if "batch_input_shape" in kwargs and batch_shape is None:
            batch_shape = kwargs.pop("batch_input_shape")
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        super().__init__(name=name, **kwargs)
        dtype = "float32" if dtype is None else str(getattr(dtype, "__name__", dtype))
        if dtype not in _DTYPES:
            raise ConfigError(f"{self.label()}: dtype must be one of {_DTYPES}, got {dtype!r}")
        if sparse:
            raise ConfigError(f"{self.label()}: sparse inputs are not supported")
        if batch_shape is not None:
            if shape is not None:
                raise ConfigError(f"{self.label()}: give shape or batch_shape, not both")
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        if shape is None:
            raise ConfigError(f"{self.label()}: an Input needs a shape (without the batch axis)")
        if isinstance(shape, int):
            shape = (shape,)
        for d in shape:
            if d is not None and (not isinstance(d, int) or isinstance(d, bool) or d <= 0):
                raise ConfigError(f"{self.label()}: shape entries must be positive ints or "
                                  f"None, got {tuple(shape)}")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
            raise ConfigError(f"{self.label()}: batch_size must be a positive int, "
                              f"got {batch_size!r}")
        self.shape = tuple(shape)
        self.batch_size = batch_size
        self.dtype = dtype
        self.built = True
        tensor = SymbolicTensor(TensorType((None, *self.shape), dtype), self, 0, 0)
        self._nodes.append(LayerNode(self, (), (tensor,), self.source))

    def attrs(self) -> InputAttrs:
        return InputAttrs(self.shape, self.dtype, self.batch_size)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        return [b.add(OpKind.INPUT, [], self.attrs())]

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        raise ConfigError(f"{self.label(user_source())}: an InputLayer cannot be called")

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": (self.batch_size, *self.shape), "dtype": self.dtype,
                "sparse": False, "name": self.name}


def Input(shape: Sequence[int | None] | None = None, batch_size: int | None = None,
          dtype: Any = "float32", name: str | None = None,
          batch_shape: Sequence[int | None] | None = None) -> SymbolicTensor:
    """A symbolic input tensor of the given per-sample shape."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                       batch_shape=batch_shape)
    return layer._nodes[0].outputs[0]

__all__ = ["Input", "InputLayer"]
