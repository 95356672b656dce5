"""Reshaping layers that move values: RepeatVector."""

from __future__ import annotations

from typing import Any

from layerc.ir import OpKind, Port
from layerc.ir.ops.reshaping import RepeatAttrs
from layerc.layers.base import Builder, Layer
from layerc.layers.core import positive_int


class RepeatVector(Layer):
    """Keras's RepeatVector: (batch, features) -> (batch, n, features)."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = positive_int(self, "n", n)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        return [b.add(OpKind.REPEAT, inputs, RepeatAttrs(self.n))]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


__all__ = ["RepeatVector"]
