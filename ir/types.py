"""Tensor types: a shape whose first axis is the batch (None) and a dtype."""

from __future__ import annotations

import math
from dataclasses import dataclass

_SHORT = {"float32": "f32", "int32": "i32", "int64": "i64", "float64": "f64"}


@dataclass(frozen=True, slots=True)
class TensorType:
    """A tensor's static type. `shape[0]` is the batch axis and is None."""

    shape: tuple[int | None, ...]
    dtype: str = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))
        for dim in self.shape:
            if dim is not None and (not isinstance(dim, int) or dim < 0):
                raise TypeError(f"dimension {dim!r} is not a non-negative int or None")

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def sample_shape(self) -> tuple[int | None, ...]:
        """The shape without the batch axis."""
        return self.shape[1:]

    @property
    def sample_size(self) -> int:
        """Elements per sample; requires every non-batch dim to be known."""
        if any(d is None for d in self.sample_shape):
            raise ValueError(f"{self} has an unknown non-batch dimension")
        return math.prod(self.sample_shape)  # type: ignore[arg-type]

    def __str__(self) -> str:
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{_SHORT.get(self.dtype, self.dtype)}[{dims}]"

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_json(cls, data: dict) -> TensorType:
        return cls(tuple(data["shape"]), data["dtype"])
