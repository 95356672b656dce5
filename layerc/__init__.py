"""layerc: compile Keras-style layer models into fused Numba kernels."""

from layerc import activations, config, initializers, layers, utils
from layerc.compiler import compile, optimize
from layerc.errors import (ArtifactError, ConfigError, InputError, IRError, LayercError,
                           LayerNodeError, PassError, ShapeError, TargetError)
from layerc.layers import Input, InputLayer
from layerc.models import Model, Sequential
from layerc.keras_import import from_keras
from layerc.runtime import CompiledModel, load

__version__ = "0.1.0"


def trace(model: Model):  # noqa: ANN201  (an ir.Graph)
    """The model as an IR graph, before any pass."""
    return model.to_graph()


__all__ = [
    "ArtifactError", "CompiledModel", "ConfigError", "IRError", "Input", "InputError",
    "InputLayer", "LayerNodeError", "LayercError", "Model", "PassError", "Sequential", "ShapeError",
    "TargetError", "activations", "compile", "config", "from_keras", "initializers", "layers",
    "load", "optimize", "trace", "utils",
]
