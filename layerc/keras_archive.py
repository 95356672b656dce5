"""Reading a Keras 3 `.keras` file without Keras, for `from_keras`.

A `.keras` file is a zip archive (keras/src/saving/saving_lib.py):
`config.json` holds the model's serialized config and `model.weights.h5`
its variables. This module turns them into the stand-ins of
keras_objects.py, which the same replay and converters as a live Keras
model read (keras_import.py, keras_layers.py, keras_ops.py):

- the config: each layer, operation and nested model of a model's `layers`
  becomes a stand-in, and the calls between them a graph
  (keras_archive_graph.py). A layer's config is normalized to what Keras
  3.15's `from_config(...).get_config()` gives (JSON turned its tuples into
  lists; a Bidirectional renames its directions; public class aliases such
  as `GroupQueryAttention` stand for their class, GroupedQueryAttention);
- the weights: each layer's group in the HDF5 file, named as Keras's saver
  names it (`layers/<snake_case class>[_n]` in the model's layer order, the
  layer's name written beside its variables decides when present), its own
  variables `vars/0..n` followed by those of the layers it holds (an RNN's
  `cell`, Bidirectional's `forward_layer` and `backward_layer`, ...), in
  the order Keras's `get_weights()` lists them. A layer whose group holds
  variables this module does not read is refused rather than half read.

What a file does not hold: the masks Keras attaches to tensors (a
Functional records the mask each single-input layer is called with, which
the replay checks as it checks Keras's; a Sequential records none, and
merges and attention read their inputs' masks, so there layerc's own mask
propagation is trusted; see keras_objects.py), and the states of stateful
recurrent layers (Keras does not save them either: both routes start from
zeros). Keras's image_data_format, which a per-channel Rescaling follows, is
read from keras.json as Keras does. h5py is imported only when a file is read.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from layerc.errors import ArtifactError
from layerc.keras_archive_graph import constant, functional_graph, sequential_graph
from layerc.keras_layers import label
from layerc.keras_objects import ArchivedLayer

CONFIG = "config.json"
WEIGHTS = "model.weights.h5"

# Keras's public aliases whose class has another name (keras.layers.MaxPool2D
# is MaxPooling2D): a config names the class by its public name.
_CLASS_NAMES = {
    **{f"{where}{short}Pool{d}D": f"{where}{long}Pooling{d}D" for d in (1, 2, 3)
       for where in ("", "Global") for short, long in (("Max", "Max"), ("Avg", "Average"))},
    **{f"Convolution{d}D": f"Conv{d}D" for d in (1, 2, 3)},
    **{f"Convolution{d}DTranspose": f"Conv{d}DTranspose" for d in (1, 2, 3)},
    **{f"SeparableConvolution{d}D": f"SeparableConv{d}D" for d in (1, 2)},
    "GroupQueryAttention": "GroupedQueryAttention",
}

# Config keys whose value Keras 3.15's get_config gives as a tuple (of
# tuples), checked against Keras in tests/oracle/test_keras_archive.py;
# JSON keeps them as lists.
_TUPLE_KEYS = frozenset({
    "batch_shape", "kernel_size", "strides", "dilation_rate", "pool_size", "output_padding",
    "target_shape", "dims", "padding", "cropping", "size", "attention_axes", "output_shape",
    "factor", "height_factor", "width_factor", "x_factor", "y_factor"})
_TUPLE_KEYS_OF = {"Normalization": frozenset({"axis"}),
                  "RandomGaussianBlur": frozenset({"sigma"}),
                  "RandomElasticTransform": frozenset({"scale"}),
                  "RandomErasing": frozenset({"scale"})}

# The layers Keras keeps inside a layer, by the attribute its weights are
# saved under (the stand-in's attribute of that name where the config
# describes the inner layer), in the order get_weights() lists them after the
# layer's own; an absent one, such as a MultiHeadAttention's gate without
# use_gate, is skipped.
_RECURRENT = ("SimpleRNN", "GRU", "LSTM", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
_INNER = {
    **{name: ("cell",) for name in _RECURRENT},
    "Bidirectional": ("forward_layer", "backward_layer"),
    "TimeDistributed": ("layer",),
    "MultiHeadAttention": ("query_dense", "key_dense", "_gate_dense", "value_dense",
                           "output_dense"),
    "GroupedQueryAttention": ("_query_dense", "_key_dense", "_gate_dense", "_value_dense",
                              "_output_dense"),
}
_OP_MODULES = ("keras.src.ops.", "keras.src.activations.")


def read(path: Path) -> ArchivedLayer:
    """The model a .keras file holds, as stand-ins."""
    config, store = _open(path)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ArtifactError(f"from_keras: {path}: {CONFIG} holds no model config")
    try:
        return _Reader(str(path), store).model(config, "")
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        # a config.json Keras did not write: say so rather than fail deep inside
        raise ArtifactError(f"from_keras: {path}: {CONFIG} is not a Keras 3 model config "
                            f"({type(err).__name__}: {err})") from err


def _open(path: Path) -> tuple[Any, _Store]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            parts = {name: archive.read(name) for name in (CONFIG, WEIGHTS) if name in names}
    except (zipfile.BadZipFile, OSError) as err:
        raise ArtifactError(f"from_keras: {path}: not a Keras 3 .keras file (not a readable "
                            f"zip archive: {err})") from None
    for needed in (CONFIG, WEIGHTS):
        if needed not in parts:
            raise ArtifactError(f"from_keras: {path}: not a Keras 3 .keras file: the archive "
                                f"has no {needed} (it has {', '.join(sorted(names)) or 'nothing'})")
    text, weights = parts[CONFIG], parts[WEIGHTS]
    try:
        config = json.loads(text)
    except ValueError as err:
        raise ArtifactError(f"from_keras: {path}: {CONFIG} is not JSON ({err})") from None
    return config, _Store.from_bytes(weights, path)


class _Store:
    """The variables of model.weights.h5 by HDF5 path, and the layer names
    Keras writes beside them."""

    def __init__(self, arrays: dict[str, np.ndarray], names: dict[str, str], path: Path) -> None:
        self.arrays = arrays
        self.names = names  # a layer's group (the path above its vars/) -> its name
        self.path = path

    @classmethod
    def from_bytes(cls, data: bytes, path: Path) -> _Store:
        import h5py

        arrays: dict[str, np.ndarray] = {}
        names: dict[str, str] = {}

        def visit(name: str, item: Any) -> None:
            if isinstance(item, h5py.Dataset):
                arrays[name] = np.asarray(item[()])
            elif name.rpartition("/")[2] == "vars" and "name" in item.attrs:
                names[name.rpartition("/")[0]] = str(item.attrs["name"])

        try:
            with h5py.File(io.BytesIO(data), "r") as f:
                f.visititems(visit)
        except OSError as err:
            raise ArtifactError(f"from_keras: {path}: {WEIGHTS} is not an HDF5 file "
                                f"({err})") from None
        return cls(arrays, names, path)

    def own(self, group: str, layer: str) -> list[np.ndarray]:
        """A layer's own variables, vars/0..n."""
        prefix = f"{group}/vars/"
        found = {key[len(prefix):]: value for key, value in self.arrays.items()
                 if key.startswith(prefix) and "/" not in key[len(prefix):]}
        if sorted(found, key=_index) != [str(i) for i in range(len(found))]:
            raise ArtifactError(f"from_keras: {layer}: {WEIGHTS} names its variables "
                                f"{sorted(found)} in {group}/vars, expected 0..{len(found) - 1}")
        return [found[str(i)] for i in range(len(found))]

    def under(self, group: str) -> set[str]:
        return {key for key in self.arrays if key.startswith(f"{group}/")}


def _index(key: str) -> int:
    return int(key) if key.isdigit() else -1


def _snake(name: str) -> str:
    """Keras's naming.to_snake_case, which names a layer's weights group."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _numbered(names: list[str]) -> list[str]:
    """Keras's _get_unique_name over a container: dense, dense_1, ..."""
    counts: dict[str, int] = {}
    found = []
    for name in names:
        n = counts.get(name, -1) + 1
        counts[name] = n
        found.append(f"{name}_{n}" if n else name)
    return found


def _strip(value: Any) -> Any:
    """A serialized value without the ids Keras adds while saving."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _which(layer: ArchivedLayer) -> str:
    return f"layer {layer.name!r} ({layer.class_name})"


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


class _Reader:
    """Builds the stand-ins of one file."""

    def __init__(self, source: str, store: _Store) -> None:
        self.source = source
        self.store = store

    def bad(self, what: str) -> ArtifactError:
        return ArtifactError(f"from_keras: {self.source}: {CONFIG}: {what}")

    # ----- models -----
    def model(self, entry: dict[str, Any], group: str) -> ArchivedLayer:
        config = entry["config"]
        functional = "layers" in config and "input_layers" in config
        sequential = "layers" in config and not functional
        model = ArchivedLayer(
            name=str(config.get("name")), class_name=str(entry.get("class_name")),
            module=str(entry.get("module")), source=self.source,
            config={k: v for k, v in _strip(config).items() if k != "layers"},
            kind="functional" if functional else "sequential" if sequential else "model")
        if model.kind == "model":
            return model
        members = self._members(config["layers"], group, sequential)
        by_name = {m.name: m for m in members}
        if len(by_name) != len(members):
            raise self.bad(f"model {model.name!r} names two layers alike")
        layers = [m for m in members if m.kind != "op"]
        if sequential and layers and layers[0].class_name == "InputLayer":
            layers = layers[1:]
        model.attributes["layers"] = layers
        model.graph = functional_graph(self.source, members, config["layers"], config) \
            if functional else sequential_graph(members, config)
        return model

    def _members(self, entries: Any, group: str, sequential: bool) -> list[ArchivedLayer]:
        """The layers, operations and nested models of a model, each reading
        its weights from the group Keras's saver gives it: its class's name
        numbered in the model's layers (a Sequential's InputLayer is not
        among them)."""
        if not isinstance(entries, list) or not all(
                isinstance(e, dict) and isinstance(e.get("config"), dict) and
                isinstance(e.get("class_name"), str) for e in entries):
            raise self.bad("a model's 'layers' is not a list of serialized layers")
        ops = [str(e.get("module", "")).startswith(_OP_MODULES) for e in entries]
        classes = [_CLASS_NAMES.get(e["class_name"], e["class_name"]) for e in entries]
        saved = [i for i, (op, cls) in enumerate(zip(ops, classes))
                 if not op and not (sequential and i == 0 and cls == "InputLayer")]
        groups = dict(zip(saved, _numbered([_snake(classes[i]) for i in saved])))
        prefix = f"{group}/layers" if group else "layers"
        members = []
        for i, entry in enumerate(entries):
            path = self._group(prefix, groups[i], entry["config"].get("name")) \
                if i in groups else None
            if ops[i]:
                members.append(self._op(entry))
            elif "layers" in entry["config"]:
                members.append(self.model(entry, path or ""))
            else:
                members.append(self.layer(entry, path))
        return members

    def _group(self, prefix: str, default: str, name: Any) -> str:
        """The group of a layer: where Keras's saver puts it; when the file
        writes the layers' names beside their variables, the one of its name."""
        path = f"{prefix}/{default}"
        if self.store.names.get(path, name) == name:
            return path
        for other, found in self.store.names.items():
            if found == name and other.rpartition("/")[0] == prefix:
                return other
        return path

    # ----- layers and operations -----
    def _op(self, entry: dict[str, Any]) -> ArchivedLayer:
        config = _strip(entry["config"])
        attributes = {k: v for k, v in config.items() if k != "name"}
        return ArchivedLayer(name=str(config.get("name")), class_name=str(entry["class_name"]),
                             module=str(entry["module"]), kind="op", config=config,
                             source=self.source, attributes=attributes)

    def layer(self, entry: dict[str, Any], group: str | None) -> ArchivedLayer:
        """A layer; `group` None for one a layer holds (its weights are read
        with its holder's)."""
        cls = _CLASS_NAMES.get(entry["class_name"], entry["class_name"])
        config = normalized(cls, _strip(entry["config"]))
        layer = ArchivedLayer(name=str(config.get("name")), class_name=cls,
                              module=str(entry.get("module")), kind="layer", config=config,
                              source=self.source)
        self._inner(layer)
        if cls == "Rescaling":
            layer.attributes.update(scale=constant(config.get("scale")),
                                    offset=constant(config.get("offset", 0.0)))
        if group is not None:
            layer.weights = lambda: self.weights(layer, group)
            if cls == "Normalization":
                layer.attributes.update(self._normalization_stats(layer, entry))
        return layer

    def _inner(self, layer: ArchivedLayer) -> None:
        """The layers a wrapper or an RNN holds, as Keras rebuilds them."""
        config = layer.config
        if layer.class_name == "Bidirectional":
            for attr, key in (("forward_layer", "layer"), ("backward_layer", "backward_layer")):
                inner = _bidirectional_part(config, key)
                if inner is None:
                    raise self.bad(f"{_which(layer)}: no 'layer' config")
                layer.attributes[attr] = self.layer(inner, None)
                config[key] = {**inner, "config": layer.attributes[attr].config}
            return
        if layer.class_name == "TimeDistributed" or layer.class_name == "RNN":
            key = "layer" if layer.class_name == "TimeDistributed" else "cell"
            inner = config.get(key)
            if not isinstance(inner, dict) or not isinstance(inner.get("config"), dict):
                raise self.bad(f"{_which(layer)}: no '{key}' config")
            layer.attributes[key] = self.layer(inner, None)
            config[key] = {**inner, "config": layer.attributes[key].config}
            return
        if layer.class_name == "StackedRNNCells":
            cells = [self.layer(cell, None) for cell in config.get("cells") or []]
            layer.attributes["cells"] = cells
            config["cells"] = [{**cell, "config": stand_in.config}
                               for cell, stand_in in zip(config["cells"], cells)]

    # ----- weights -----
    def weights(self, layer: ArchivedLayer, group: str) -> list[np.ndarray]:
        """A layer's weights in Keras's get_weights() order; every variable
        its group holds must be among them."""
        read: set[str] = set()
        found = self._weights(layer, group, read, label(layer))
        left = sorted(self.store.under(group) - read)
        if left:
            raise ArtifactError(f"from_keras: {label(layer)}: {WEIGHTS} holds {left[0]}, "
                                f"which is not among the weights Keras gives a "
                                f"{layer.class_name} (layerc reads those)")
        return found

    def _weights(self, layer: ArchivedLayer | None, group: str, read: set[str],
                 owner: str) -> list[Any]:
        own = self.store.own(group, owner)
        read |= {f"{group}/vars/{i}" for i in range(len(own))}
        found = list(own)
        for attr, inner in _inner_layers(layer):
            path = f"{group}/{attr}"
            if inner is not None or self.store.under(path):
                found += self._weights(inner, path, read, owner)
        return found

    def _normalization_stats(self, layer: ArchivedLayer,
                             entry: dict[str, Any]) -> dict[str, np.ndarray]:
        """Keras's Normalization `mean` and `variance` (its build and
        finalize_state): the given or adapted statistics shaped to broadcast
        over the input."""
        config = layer.config
        shape = (entry.get("build_config") or {}).get("input_shape")
        if not isinstance(shape, list):
            raise self.bad(f"{_which(layer)}: no input shape (build_config)")
        ndim = len(shape)
        axis = config.get("axis")
        axes = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        keep = tuple(sorted(a % ndim for a in axes))
        broadcast = [shape[d] if d in keep else 1 for d in range(ndim)]
        if config.get("mean") is None:  # adapted: the statistics are variables
            weights = layer.get_weights()
            if len(weights) < 2:
                raise ArtifactError(f"from_keras: {label(layer)}: an adapted "
                                    f"Normalization without its mean and variance in "
                                    f"{WEIGHTS}")
            return {key: np.reshape(w, broadcast).astype(np.float32)
                    for key, w in zip(("mean", "variance"), weights)}
        stats = {}
        for key in ("mean", "variance"):
            value = np.asarray(config[key], dtype=np.float32)
            if value.ndim:  # its axes are the kept ones, from the right
                expanded = [1] * ndim
                for i in range(1, value.ndim + 1):
                    expanded[keep[-i]] = value.shape[-i]
                value = np.reshape(value, expanded)
            stats[key] = np.broadcast_to(value, broadcast).astype(np.float32)
        return stats


def _inner_layers(layer: ArchivedLayer | None) -> list[tuple[str, ArchivedLayer | None]]:
    """The weights group and, where the config describes it, the stand-in of
    each layer `layer` holds (a StackedRNNCells' cells are named like a
    model's layers)."""
    if layer is None:
        return []
    if layer.class_name != "StackedRNNCells":
        return [(attr, layer.attributes.get(attr)) for attr in _INNER.get(layer.class_name, ())]
    cells = layer.attributes.get("cells", [])
    names = _numbered([_snake(cell.class_name) for cell in cells])
    return [(f"cells/{name}", cell) for name, cell in zip(names, cells)]


def _bidirectional_part(config: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A direction of a Bidirectional as its constructor makes it: the
    forward layer renamed `forward_<name>`; the backward one as given, or
    else made from the forward config (`backward_<name>`, go_backwards);
    both with zero_output_for_mask forced to return_sequences. None when the
    config has no layer."""
    layer = config.get("layer")
    if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
        return None
    given = config.get(key) if key == "backward_layer" else None
    part = given if isinstance(given, dict) else layer
    inner = dict(part.get("config") or {})
    name = str(layer["config"].get("name", ""))
    if key == "layer":
        inner["name"] = "forward_" + name.removeprefix("forward_")
    elif given is None:
        inner.update(name="backward_" + name.removeprefix("backward_"), go_backwards=True)
    if "zero_output_for_mask" in inner:
        inner["zero_output_for_mask"] = inner.get("return_sequences", False)
    return {**part, "config": inner}


def normalized(cls: str, config: dict[str, Any]) -> dict[str, Any]:
    """A layer's JSON config as Keras's get_config gives it: tuples where
    Keras gives tuples."""
    keys = _TUPLE_KEYS | _TUPLE_KEYS_OF.get(cls, frozenset())
    return {key: _tuples(value) if key in keys and isinstance(value, list) else value
            for key, value in config.items()}
