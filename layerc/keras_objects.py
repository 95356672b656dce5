"""What `from_keras` reads of a Keras model, whichever way it came: live
Keras 3 objects (a model object, or a file Keras itself loaded) or the
stand-ins keras_archive.py builds from a `.keras` file without Keras.

The replay (keras_import.py) and the converters (keras_layers.py,
keras_ops.py, keras_masks.py) read a layer's class name, config, weights and
the public attributes Keras gives it (`cell`, `layer`, `forward_layer`,
`scale`, an operation's `axis`, ...); a model's graph as `Call`s in Keras's
order; a tensor's producer and the mask Keras attached to it. For live
objects the Keras-specific (partly private) attributes behind these are read
here and nowhere else; a stand-in carries them as plain fields.

A stand-in cannot know the mask Keras attaches to a tensor, which a `.keras`
file does not record: `attached_mask` answers `UNKNOWN` for it, and a call
argument the file does not record (the calls of a Sequential) is `UNKNOWN`
too. keras_import.py then trusts layerc's own mask propagation there.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_KERAS_MODEL = "keras.src.models.model.Model"
_KERAS_SEQUENTIAL = "keras.src.models.sequential.Sequential"
_KERAS_FUNCTIONAL = "keras.src.models.functional.Functional"
_KERAS_LAYER = "keras.src.layers.layer.Layer"

MODEL_KINDS = ("sequential", "functional", "model")


class _Unknown:
    """What a .keras file does not record: the mask Keras attaches to a
    tensor, or hands a layer of a Sequential."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True, eq=False)
class Call:
    """One call of a layer, a model or an operation in a model's graph."""

    operation: Any
    args: list[Any]
    kwargs: dict[str, Any]
    outputs: list[Any]
    is_input: bool  # an InputLayer's own node
    # False where a file names only the outputs the model uses: `outputs`
    # then ends with the last one it names
    all_outputs: bool = True


@dataclass(frozen=True, eq=False)
class Graph:
    """A model's calls in Keras's order (Keras's `_nodes_by_depth`, deepest
    first), its input and output tensors and how the user structured them."""

    calls: list[Call]
    inputs: list[Any]
    outputs: list[Any]
    inputs_struct: Any
    outputs_struct: Any


@dataclass(eq=False)
class ArchivedTensor:
    """A Keras tensor a .keras file names: an output of a call."""

    name: str
    shape: tuple[int | None, ...] | None = None  # None where the file gives none
    producer: Call | None = None


@dataclass(eq=False)
class ArchivedLayer:
    """A layer, operation or model read from a .keras file.

    `config` is what Keras's `from_config(...).get_config()` gives for it;
    `attributes` the public attributes a live Keras object has and the
    converters read (`cell`, `layer`, `forward_layer`, `backward_layer`,
    `scale`, `offset`, `mean`, `variance`, an operation's constructor
    arguments, a model's `layers`)."""

    name: str
    class_name: str
    module: str
    kind: str  # "layer", "op", or one of MODEL_KINDS
    config: dict[str, Any]
    source: str  # the file it was read from
    attributes: dict[str, Any] = field(default_factory=dict)
    graph: Graph | None = None  # a model's; None for an unbuilt Sequential
    nodes: list[Call] = field(default_factory=list)  # its calls, in order
    # reads its weights, in Keras's get_weights() order (None: a layer that
    # another holds, whose weights are read with its holder's)
    weights: Callable[[], list[Any]] | None = None

    def get_config(self) -> dict[str, Any]:
        return copy.deepcopy(self.config)

    def get_weights(self) -> list[Any]:
        return self.weights() if self.weights is not None else []

    def __getattr__(self, attr: str) -> Any:
        # only reached for attributes that are not fields
        attributes = self.__dict__.get("attributes", {})
        if attr in attributes:
            return attributes[attr]
        raise AttributeError(f"{self.__dict__.get('class_name')} {self.__dict__.get('name')!r} "
                             f"read from a .keras file has no attribute {attr!r}")


# ----- one question, both kinds of object -----
def _bases(obj: Any) -> set[str]:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__}


def class_name(obj: Any) -> str:
    """The name of the object's Keras class (`Dense`, `GroupedQueryAttention`)."""
    return obj.class_name if isinstance(obj, ArchivedLayer) else type(obj).__name__


def is_keras_class(obj: Any) -> bool:
    """Whether Keras itself defines the object's class (not a user's subclass)."""
    module = obj.module if isinstance(obj, ArchivedLayer) else type(obj).__module__
    return module.startswith("keras.") or module == "keras"


def kind(obj: Any) -> str:
    """"sequential", "functional", "model" (a subclassed model), "layer", or
    "op" (anything else: in a graph, a Keras operation that is not a layer)."""
    if isinstance(obj, ArchivedLayer):
        return obj.kind
    bases = _bases(obj)
    if _KERAS_SEQUENTIAL in bases:
        return "sequential"
    if _KERAS_FUNCTIONAL in bases:
        return "functional"
    if _KERAS_MODEL in bases:
        return "model"
    return "layer" if _KERAS_LAYER in bases else "op"


def is_model(obj: Any) -> bool:
    return kind(obj) in MODEL_KINDS


def is_tensor(value: Any) -> bool:
    """Whether a call argument is a Keras tensor (not a number or a list)."""
    return isinstance(value, ArchivedTensor) or hasattr(value, "_keras_history")


def source_file(obj: Any) -> str | None:
    """The .keras file a stand-in was read from; None for a live object."""
    return obj.source if isinstance(obj, ArchivedLayer) else None


def _call(node: Any) -> Call:
    return Call(node.operation, list(node.arguments.args), dict(node.arguments.kwargs),
                list(node.outputs), node.is_input)


def graph_of(model: Any) -> Graph | None:
    """The graph of a Sequential or functional model; None for a Sequential
    that is not built (its input shape unknown)."""
    if isinstance(model, ArchivedLayer):
        return model.graph
    functional = model if kind(model) == "functional" else getattr(model, "_functional", None)
    if functional is None:
        return None
    by_depth = functional._nodes_by_depth
    calls = [_call(node) for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]
    return Graph(calls, list(functional.inputs), list(functional.outputs),
                 functional._inputs_struct, functional._outputs_struct)


def producer(tensor: Any) -> Call | None:
    """The call whose output the tensor is."""
    if isinstance(tensor, ArchivedTensor):
        return tensor.producer
    history = tensor._keras_history
    nodes = getattr(history.operation, "_inbound_nodes", [])
    return _call(nodes[history.node_index]) if history.node_index < len(nodes) else None


def attached_mask(tensor: Any) -> Any:
    """The mask Keras attached to a tensor (None for none); UNKNOWN for a
    tensor read from a file, which does not record it."""
    if isinstance(tensor, ArchivedTensor):
        return UNKNOWN
    return getattr(tensor, "_keras_mask", None)


def image_data_format(obj: Any) -> str:
    """Keras's image_data_format, which Keras keeps outside the model: asked
    of Keras for a live object, read from Keras's own keras.json
    ($KERAS_HOME or ~/.keras, channels_last when absent) for a stand-in."""
    if not isinstance(obj, ArchivedLayer):
        import keras

        return str(keras.config.image_data_format())
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        settings = json.loads((Path(home) / "keras.json").read_text())
    except (OSError, ValueError):
        return "channels_last"
    found = settings.get("image_data_format") if isinstance(settings, dict) else None
    return found if found in ("channels_last", "channels_first") else "channels_last"
