"""The error hierarchy every stage raises.

It lives in the lowest stage (the IR) so that passes, codegen and the runtime
can raise it without importing the frontend; `layerc` re-exports it.  Each
error also subclasses the builtin a user would catch for it.
"""

from __future__ import annotations


class LayercError(Exception):
    """Base of every error layerc raises on purpose."""


class ShapeError(LayercError, ValueError):
    """A tensor shape that a layer or op cannot take."""


class ConfigError(LayercError, ValueError):
    """A layer option that is invalid or that layerc does not implement."""


class InputError(LayercError, ValueError):
    """Data handed to predict that does not match the model's inputs."""


class IRError(LayercError, ValueError):
    """A graph that fails verification, or an edit that would break it."""


class ArtifactError(LayercError, OSError):
    """A compiled-model file that is missing, corrupt, tampered or too new."""


class TargetError(LayercError, RuntimeError):
    """A compile target that is unknown or unavailable on this machine."""


class PassError(LayercError, RuntimeError):
    """A pass that failed on a graph for a reason that is not the user's
    (a bug in layerc): names the pass and the node it was rewriting."""


def where(layer: str, kind: str = "", source: str = "") -> str:
    """The `name (Kind) at file.py:42` prefix every message starts with."""
    text = layer
    if kind:
        text += f" ({kind})"
    if source:
        text += f" at {source}"
    return text
