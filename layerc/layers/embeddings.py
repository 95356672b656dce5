"""Embedding: integer indices to dense vectors."""

from __future__ import annotations

from typing import Any

from layerc import initializers
from layerc.errors import ConfigError
from layerc.ir import OpKind, Port, TensorType
from layerc.ir.ops.embedding import EmbeddingAttrs
from layerc.layers.base import Builder, Layer
from layerc.layers.core import positive_int

# Indices travel through the float32 activation arena, exact up to 2**24.
MAX_INPUT_DIM = 2 ** 24


class Embedding(Layer):
    input_dtype = "int32"

    def __init__(self, input_dim: int, output_dim: int,
                 embeddings_initializer: Any = "uniform", embeddings_regularizer: Any = None,
                 embeddings_constraint: Any = None, mask_zero: bool = False,
                 weights: Any = None, lora_rank: Any = None, input_length: int | None = None,
                 activity_regularizer: Any = None, **kwargs: Any) -> None:
        if input_length is not None and "input_shape" not in kwargs \
                and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        label = self.label()
        self.input_dim = positive_int(self, "input_dim", input_dim)
        self.output_dim = positive_int(self, "output_dim", output_dim)
        if self.input_dim > MAX_INPUT_DIM:
            raise ConfigError(f"{label}: input_dim {input_dim} exceeds {MAX_INPUT_DIM}, the "
                              f"largest vocabulary layerc indexes exactly")
        self.mask_zero = bool(mask_zero)
        if lora_rank is not None:
            raise ConfigError(f"{label}: lora_rank is not supported (inference-only)")
        self.input_length = input_length
        self.embeddings_initializer = initializers.get(embeddings_initializer, label)
        self.training_only = {"embeddings_regularizer": embeddings_regularizer,
                              "embeddings_constraint": embeddings_constraint,
                              "activity_regularizer": activity_regularizer}
        self._initial = weights

    def build(self, in_types: tuple[TensorType, ...]) -> None:
        self.add_weights_for(OpKind.EMBEDDING, self._attrs(), in_types,
                             [("embeddings", self.embeddings_initializer)])
        if self._initial is not None:
            self.built = True
            self.set_weights(self._initial)

    def _attrs(self) -> EmbeddingAttrs:
        return EmbeddingAttrs(self.input_dim, self.output_dim, self.mask_zero)

    def emit(self, b: Builder, inputs: list[Port]) -> list[Port]:
        values = b.add(OpKind.EMBEDDING, inputs, self._attrs(), ("embeddings",))
        if self.mask_zero:
            b.out_mask = Port(values.node, 1)
        return [values]

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "input_dim": self.input_dim,
                  "output_dim": self.output_dim, "mask_zero": self.mask_zero,
                  "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                  **self.training_only}
        if self.input_length is not None:
            config["input_length"] = self.input_length
            config.pop("batch_input_shape", None)
        return config

__all__ = ["Embedding"]
