"""layerc's errors (defined in the IR stage so every stage can raise them)."""

from layerc.ir.errors import (ArtifactError, ConfigError, InputError, IRError, LayercError,
                              PassError, ShapeError, TargetError)

__all__ = ["ArtifactError", "ConfigError", "IRError", "InputError", "LayercError", "PassError",
           "ShapeError", "TargetError"]


class LayerNodeError(LayercError, AttributeError):
    """A single-node property (input, output, ...) asked of a layer that has
    never been called, or that was called several times (a shared layer)."""


__all__.append("LayerNodeError")
