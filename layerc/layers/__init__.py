"""layerc.layers: every layer, plus `serialize`/`deserialize` by class name.

Each family module lists its public names in `__all__`; they are all
importable from here, and every public layer class registers itself in
`LAYERS` when it is defined (so a new layer is one class in its family's file).
"""

from __future__ import annotations

from typing import Any

from layerc.errors import ConfigError
from layerc.layers import (activations, attention, conv_lstm, convolutional, core,
                           dot_attention, einsum, embeddings, input_layer, local, merge,
                           normalization, pooling, preprocessing, recurrent, reshaping, wrappers)
from layerc.layers.base import LAYERS, Layer, SymbolicTensor
from layerc.layers.activations import *  # noqa: F403
from layerc.layers.attention import *  # noqa: F403
from layerc.layers.conv_lstm import *  # noqa: F403
from layerc.layers.convolutional import *  # noqa: F403
from layerc.layers.core import *  # noqa: F403
from layerc.layers.dot_attention import *  # noqa: F403
from layerc.layers.einsum import *  # noqa: F403
from layerc.layers.embeddings import *  # noqa: F403
from layerc.layers.input_layer import *  # noqa: F403
from layerc.layers.local import *  # noqa: F403
from layerc.layers.merge import *  # noqa: F403
from layerc.layers.normalization import *  # noqa: F403
from layerc.layers.pooling import *  # noqa: F403
from layerc.layers.preprocessing import *  # noqa: F403
from layerc.layers.recurrent import *  # noqa: F403
from layerc.layers.reshaping import *  # noqa: F403
from layerc.layers.wrappers import *  # noqa: F403


def serialize(layer: Layer) -> dict[str, Any]:
    return {"class_name": layer.kind, "config": layer.get_config()}


def deserialize(data: dict[str, Any]) -> Layer:
    cls = LAYERS.get(data.get("class_name", ""))
    if cls is None:
        raise ConfigError(f"unknown layer class {data.get('class_name')!r}; "
                          f"known: {', '.join(sorted(LAYERS))}")
    return cls.from_config(dict(data.get("config", {})))


__all__ = ["LAYERS", "Layer", "SymbolicTensor", "activations", "attention", "conv_lstm",
           "convolutional", "core", "deserialize", "dot_attention", "einsum", "embeddings",
           "local", "merge", "normalization", "pooling", "preprocessing", "recurrent",
           "reshaping", "serialize", "wrappers"]
__all__ += activations.__all__
__all__ += attention.__all__
__all__ += conv_lstm.__all__
__all__ += convolutional.__all__
__all__ += core.__all__
__all__ += dot_attention.__all__
__all__ += einsum.__all__
__all__ += embeddings.__all__
__all__ += input_layer.__all__
__all__ += local.__all__
__all__ += merge.__all__
__all__ += normalization.__all__
__all__ += pooling.__all__
__all__ += preprocessing.__all__
__all__ += recurrent.__all__
__all__ += reshaping.__all__
__all__ += wrappers.__all__
