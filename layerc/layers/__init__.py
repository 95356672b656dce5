"""layerc.layers: every layer, plus `serialize`/`deserialize` by class name."""

from __future__ import annotations

from typing import Any

from layerc.errors import ConfigError
from layerc.layers import convolutional, core, embeddings, local, merge, pooling, recurrent
from layerc.layers.base import Layer, SymbolicTensor
from layerc.layers.convolutional import Conv1D, Conv2D, Convolution1D, Convolution2D
from layerc.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from layerc.layers.embeddings import Embedding
from layerc.layers.input_layer import Input, InputLayer
from layerc.layers.merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply,
                                 Subtract, add, average, concatenate, maximum, minimum,
                                 multiply, subtract)
from layerc.layers.local import LocallyConnected1D, LocallyConnected2D
from layerc.layers.recurrent import GRU, LSTM, Recurrent, SimpleRNN
from layerc.layers.pooling import (AveragePooling1D, AveragePooling2D, AvgPool1D, AvgPool2D,
                                   GlobalAveragePooling1D, GlobalAveragePooling2D,
                                   GlobalAvgPool1D, GlobalAvgPool2D, GlobalMaxPool1D,
                                   GlobalMaxPool2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                                   MaxPool1D, MaxPool2D, MaxPooling1D, MaxPooling2D)

LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls for cls in (
        InputLayer, Dense, Activation, Dropout, Flatten, Reshape,
        Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
        Conv1D, Conv2D, Convolution1D, Convolution2D,
        MaxPooling1D, AveragePooling1D, MaxPooling2D, AveragePooling2D,
        GlobalMaxPooling1D, GlobalAveragePooling1D, GlobalMaxPooling2D, GlobalAveragePooling2D,
        LocallyConnected1D, LocallyConnected2D, Embedding, SimpleRNN, GRU, LSTM,
    )
}


def serialize(layer: Layer) -> dict[str, Any]:
    return {"class_name": layer.kind, "config": layer.get_config()}


def deserialize(data: dict[str, Any]) -> Layer:
    cls = LAYERS.get(data.get("class_name", ""))
    if cls is None:
        raise ConfigError(f"unknown layer class {data.get('class_name')!r}; "
                          f"known: {', '.join(sorted(LAYERS))}")
    return cls.from_config(dict(data.get("config", {})))


__all__ = [
    "AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "Conv1D", "Conv2D",
    "Convolution1D", "Convolution2D", "Embedding", "embeddings", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "LocallyConnected1D", "LocallyConnected2D",
    "MaxPool1D", "MaxPool2D", "MaxPooling1D", "MaxPooling2D", "convolutional", "local",
    "pooling", "GRU", "LSTM", "Recurrent", "SimpleRNN", "recurrent",
    "Activation", "Add", "Average", "Concatenate", "Dense", "Dropout", "Flatten", "Input",
    "InputLayer", "LAYERS", "Layer", "Maximum", "Minimum", "Multiply", "Reshape", "Subtract",
    "SymbolicTensor", "add", "average", "concatenate", "core", "deserialize", "maximum",
    "merge", "minimum", "multiply", "serialize", "subtract",
]
