"""`layerc.from_keras`: converting a Keras 3 model (object or .keras file)."""

from __future__ import annotations

from typing import Any


def from_keras(model_or_path: Any) -> Any:
    raise NotImplementedError("from_keras is being written")
