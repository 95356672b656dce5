"""`layerc.from_keras`: a Keras 3 model (an object, a .keras file or a legacy
.h5 file) as a layerc model.

The Keras model's own graph is replayed: each Keras layer becomes one layerc
layer (`keras_layers.py` converts it, checking its options against
`keras_options.py`), called on the layerc tensors
that stand for the Keras tensors it was called on, in Keras's order, so a
layer Keras calls twice (shared) is one layerc layer called twice. Then each
layer gets the Keras weights (the layouts are the same) and each stateful
recurrent layer the states Keras holds. Masks are checked rather than
trusted: wherever Keras hands a layer a mask, the layerc twin must consume the
mask made by the twin of the Keras layer that made it, and nothing else.

Keras is imported only to read a file: a model object is inspected as it is,
so `import layerc` never imports keras (an optional extra). Without Keras a
`.keras` file is read by keras_archive.py into stand-ins that the same
replay and converters read (keras_objects.py is what both kinds of object
answer); where the file does not record Keras's masks the replay trusts
layerc's own mask propagation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from layerc.errors import ArtifactError, ConfigError, LayercError
from layerc.keras_layers import (TRAINING_BY_DEFAULT, WEIGHTS, convert_layer, label,
                                 refuse_unconvertible)
from layerc.keras_files import load
from layerc.keras_objects import (UNKNOWN, Call, Graph, attached_mask, class_name, graph_of,
                                  is_model, is_tensor, kind, source_file)
from layerc.keras_ops import OpRefused, convert_op, reads_mask
from layerc.keras_masks import KerasMasks, layerc_key, same_mask
from layerc.layers.attention import _HeadsAttention
from layerc.layers.dot_attention import Attention
from layerc.layers.base import Layer, SymbolicTensor, source_override
from layerc.layers.recurrent import Recurrent
from layerc.models import Model, Sequential

class KerasImportTypeError(ConfigError, TypeError):
    """from_keras was handed something that is neither a Keras model nor a path."""


def from_keras(model_or_path: Any, *, use_keras: bool | None = None) -> Model:
    """A layerc model with the layers, options and weights of a Keras 3 model:
    a `keras.Sequential`, a functional `keras.Model`, or the path of a
    `.keras` file or of a legacy HDF5 `.h5` model (Keras 2 / tf.keras era,
    read by Keras 3). Options layerc cannot honour raise ConfigError.

    `use_keras` says how a file is read: None (the default) through Keras
    when it can be imported, else by layerc's own reader of .keras files
    (keras_archive.py); True through Keras only; False by layerc's reader
    even where Keras is installed (a legacy .h5 file then is refused). Both
    give the same model (tests/oracle/test_keras_archive.py)."""
    kmodel = _keras_model(model_or_path, use_keras)
    with source_override(""):  # errors name the Keras layer, not the caller's line
        try:
            return _Replay(kmodel).run()
        except LayercError as err:
            source = source_file(kmodel)  # a file read without Keras: errors name it
            if source is None or source in str(err):
                raise
            raise type(err)(f"{err} (in {source})") from None


# ----- what we were given -----
def _keras_model(obj: Any, use_keras: bool | None) -> Any:
    if isinstance(obj, (str, os.PathLike)):
        return load(Path(obj), use_keras)
    if not is_model(obj):
        raise KerasImportTypeError(f"from_keras: expected a Keras 3 model (keras.Sequential or "
                                   f"a functional keras.Model) or the path of a .keras or .h5 "
                                   f"file, got {type(obj).__name__}")
    return obj


def _graph(kmodel: Any) -> Graph:
    """The model's graph of layer calls."""
    if kind(kmodel) == "model":
        raise ConfigError(f"from_keras: {kmodel.name!r} ({class_name(kmodel)}) is a subclassed "
                          f"Keras model, which has no graph of layers to convert; use "
                          f"keras.Sequential or the functional keras.Model(inputs, outputs)")
    graph = graph_of(kmodel)
    if graph is None:
        raise ConfigError(f"from_keras: Keras Sequential model {kmodel.name!r} is not built, "
                          f"so its input shape is unknown; start it with keras.Input(...) "
                          f"or call model.build(input_shape) first")
    return graph


def _leaf_layers(kmodel: Any) -> list[Any]:
    """The layers of a Keras model, those of the models nested in it included."""
    found = []
    for klayer in kmodel.layers:
        found += _leaf_layers(klayer) if is_model(klayer) else [klayer]
    return found


# ----- replaying the graph -----
class _Replay:
    """Converts one Keras model: layers, calls, masks, weights, states."""

    def __init__(self, kmodel: Any) -> None:
        self.kmodel = kmodel
        self.graph = _graph(kmodel)
        # A Sequential holding a nested model becomes a functional layerc Model.
        is_sequential = kind(kmodel) == "sequential" and not any(
            is_model(k) for k in kmodel.layers)
        self.sequential = Sequential(name=kmodel.name) if is_sequential else None
        self.layers: dict[int, tuple[Any, Layer]] = {}  # id(keras layer) -> (it, twin)
        self.tensors: dict[int, SymbolicTensor] = {}  # id(keras tensor) -> layerc tensor
        self.masks = KerasMasks(lambda kt: self.tensors.get(id(kt)))
        self.ops: dict[int, str] = {}  # id(keras tensor) -> the non-layer op that made it

    def run(self) -> Model:
        refuse_unconvertible(_leaf_layers(self.kmodel), self.kmodel)
        for call in self.graph.calls:
            self._visit(call)
        model = self._model()
        for klayer, layer in self.layers.values():
            _copy_weights(klayer, layer)
            _copy_states(klayer, layer)
        return model

    def _model(self) -> Model:
        if self.sequential is not None:
            self._tensor(self.graph.outputs[0], "the model's output")
            return self.sequential
        inputs = self._structure(self.graph.inputs_struct, "the model's inputs")
        outputs = self._structure(self.graph.outputs_struct, "the model's outputs")
        return Model(inputs, outputs, name=self.kmodel.name)

    def _structure(self, structure: Any, what: str) -> Any:
        if isinstance(structure, dict):
            return {key: self._tensor(t, what) for key, t in structure.items()}
        if isinstance(structure, (list, tuple)):
            return [self._tensor(t, what) for t in structure]
        return self._tensor(structure, what)

    def _tensor(self, ktensor: Any, what: str) -> SymbolicTensor:
        if not is_tensor(ktensor):
            raise ConfigError(f"from_keras: {what} must be tensors or flat lists or dicts of "
                              f"tensors, got {type(ktensor).__name__}")
        found = self.tensors.get(id(ktensor))
        if found is None:
            source = self.ops.get(id(ktensor), "outside the model's layers and the Keras "
                                               "operations layerc converts")
            raise ConfigError(f"from_keras: {what}: tensor {ktensor.name!r} comes from "
                              f"{source}")
        return found

    def _twin(self, klayer: Any) -> Layer:
        entry = self.layers.get(id(klayer))
        if entry is None:
            entry = (klayer, convert_layer(klayer))
            self.layers[id(klayer)] = entry
        return entry[1]

    def _visit(self, node: Call) -> None:
        op = node.operation
        if kind(op) == "op":
            self._operation(node, op)
            return
        if is_model(op):
            self._inline(node, op)
            return
        layer = self._twin(op)
        if node.is_input:
            if self.sequential is not None:
                self.sequential.add(layer)
            self.tensors[id(node.outputs[0])] = layer._nodes[0].outputs[0]
            return
        if isinstance(layer, (_HeadsAttention, Attention)):
            self._attention(node, op, layer)
            return
        inputs, keras_mask, kwargs = self._arguments(node, op, layer)
        if layer.multi_input:
            self._check_merge_masks(op, inputs, node.args[0])
        else:
            self._check_mask(op, layer, inputs, keras_mask)
        try:
            outs = self._call(layer, inputs, kwargs)
        except LayercError as err:
            raise type(err)(f"from_keras: {label(op)}: {err}") from None
        outs = outs if isinstance(outs, list) else [outs]
        self._bind(node, outs)
        made = attached_mask(node.outputs[0])
        if layer._nodes[-1].mask_output and not layer.multi_input and made is not UNKNOWN:
            self.masks.made_from(made, inputs)  # Embedding, Masking

    def _attention(self, node: Call, klayer: Any, layer: Layer) -> None:
        """An attention layer's call: MultiHeadAttention's and
        GroupedQueryAttention's (query, value, key, attention_mask=...), or
        Attention's and AdditiveAttention's ([query, value, key]), with
        return_attention_scores and use_causal_mask; the masks its inputs
        carry must be the twins of Keras's."""
        where = f"from_keras: {label(klayer)}"
        args, kwargs = list(node.args), dict(node.kwargs)
        if kwargs.pop("training", None):
            raise ConfigError(f"{where}: called with training=True; layerc is inference-only")
        options: dict[str, Any] = {name: kwargs.pop(name) for name in (
            "return_attention_scores", "use_causal_mask") if name in kwargs}
        heads = isinstance(layer, _HeadsAttention)
        if heads:
            key = args.pop() if len(args) == 3 else kwargs.pop("key", None)
            kinputs = args + ([key] if key is not None else [])
            mask = kwargs.pop("attention_mask", None)
            if mask is not None:
                options["attention_mask"] = self._tensor(mask, f"the attention_mask of "
                                                               f"{label(klayer)}")
        else:
            kinputs = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) \
                else args
        refused = sorted(k for k, v in kwargs.items() if v is not None and v is not False)
        if refused or not 2 <= len(kinputs) <= 3:
            raise ConfigError(f"{where}: called with {', '.join(refused) or 'other arguments'}; "
                              f"layerc supports the query, value and key, attention_mask "
                              f"(MultiHeadAttention), return_attention_scores and "
                              f"use_causal_mask")
        inputs = [self._tensor(t, f"the input of {label(klayer)}") for t in kinputs]
        self._check_merge_masks(klayer, inputs, kinputs)
        try:
            if heads:
                outs = layer(inputs[0], inputs[1],  # type: ignore[call-arg]
                             key=inputs[2] if len(inputs) > 2 else None, **options)
            else:
                outs = layer(inputs, **options)
        except LayercError as err:
            raise type(err)(f"{where}: {err}") from None
        self._bind(node, outs if isinstance(outs, list) else [outs])

    def _operation(self, node: Call, op: Any) -> None:
        """A Keras operation (`x + y`, keras.ops.*) becomes the layerc layer
        that computes it (keras_ops.py); one without is remembered with the
        reason, reported if a converted layer reads its output. The ops that
        compute masks (not_equal, logical_or, ...) are read as masks
        (keras_masks.py), not converted."""
        what = f"the Keras op {op.name!r} ({class_name(op)})"
        upstream = [self.ops[id(t)] for t in _flat(node.args) if id(t) in self.ops]
        if upstream:  # an input is already not converted: that is the reason
            for t in node.outputs:
                self.ops[id(t)] = upstream[0]
            return
        try:
            layer, inputs = convert_op(op, list(node.args), dict(node.kwargs), node.outputs[0],
                                       lambda kt: self.tensors.get(id(kt)))
            xs = inputs if isinstance(inputs, list) else [inputs]
            if any(x.mask is not None for x in xs) and reads_mask(layer):
                raise OpRefused("its input carries a mask, which Keras's operations ignore "
                                "and layerc's twin layer would apply")
            outs = layer(inputs)
        except OpRefused as err:
            for t in node.outputs:
                self.ops[id(t)] = f"{what}, which is not converted: {err}"
            return
        except LayercError as err:
            raise type(err)(f"from_keras: {what}: {err}") from None
        outs = outs if isinstance(outs, list) else [outs]
        for out in outs:
            out.mask = None  # Keras's operations give no mask
        self._bind(node, outs)

    def _inline(self, node: Call, kmodel: Any) -> None:
        """A Keras model used as a layer: its layer calls replayed on this
        call's tensors, each inner layer converted once (so a model called
        twice shares its weights, as in Keras); the outer model holds the
        inner layers as its own."""
        where = f"from_keras: {label(kmodel)}"
        args = list(node.args)
        kwargs = {k: v for k, v in node.kwargs.items()
                  if v is not None and v is not UNKNOWN and not (k == "training" and v is False)}
        if len(args) != 1 or kwargs:
            extra = ", ".join(sorted(kwargs)) or f"{len(args)} positional arguments"
            raise ConfigError(f"{where}: a nested model called with {extra}; layerc inlines "
                              f"nested models called on their inputs alone")
        graph = _graph(kmodel)
        given = self._inputs(args[0], kmodel)
        given = given if isinstance(given, list) else [given]
        if len(given) != len(graph.inputs):
            raise ConfigError(f"{where}: called on {len(given)} tensor(s); the nested model has "
                              f"{len(graph.inputs)} input(s)")
        for inner, tensor in zip(graph.inputs, given):
            self.tensors[id(inner)] = tensor
        for inner in graph.calls:
            if not inner.is_input:
                self._visit(inner)
        outs = [self._tensor(t, f"the outputs of {label(kmodel)}") for t in graph.outputs]
        self._bind(node, outs)

    def _arguments(self, node: Call, klayer: Any, layer: Layer) -> tuple[Any, Any, dict]:
        """The layerc inputs, the Keras mask and the layerc call arguments of a call."""
        args = list(node.args)
        kwargs = dict(node.kwargs)
        if isinstance(layer, Recurrent) and len(args) == 2 and "initial_state" not in kwargs:
            kwargs["initial_state"] = args.pop()
        where = f"from_keras: {label(klayer)}"
        if len(args) != 1:
            raise ConfigError(f"{where}: called with {len(args)} positional arguments; layerc "
                              f"layers take one (the input)")
        training = kwargs.pop("training", None)
        # tests/oracle/test_from_keras.py checks TRAINING_BY_DEFAULT's layers
        # against Keras's predict
        if training not in (None, False) and \
                class_name(klayer) not in TRAINING_BY_DEFAULT:
            raise ConfigError(f"{where}: called with training={training!r}; layerc is "
                              f"inference-only and supports training=None or False")
        keras_mask = kwargs.pop("mask", None)
        state = kwargs.pop("initial_state", None)
        if kwargs:
            key = sorted(kwargs)[0]
            raise ConfigError(f"{where}: call argument {key}={kwargs[key]!r} is not supported; "
                              f"layerc supports initial_state (recurrent layers), training, "
                              f"mask")
        inputs = self._inputs(args[0], klayer)
        call: dict[str, Any] = {}
        if state is not None:
            call["initial_state"] = self._inputs(state, klayer)
        return inputs, keras_mask, call

    def _inputs(self, value: Any, klayer: Any) -> Any:
        what = f"the input of {label(klayer)}"
        if isinstance(value, (list, tuple)):
            return [self._tensor(t, what) for t in value]
        return self._tensor(value, what)

    def _their_mask(self, where: str, keras_mask: Any) -> Any:
        """The key of a Keras mask (None for none); one layerc cannot match is
        refused."""
        if keras_mask is None:
            return None
        key = self.masks.key(keras_mask)
        if key is None:
            made_by = self.ops.get(id(keras_mask), "a layer layerc does not mask like Keras")
            raise ConfigError(f"{where}: Keras calls it with a mask made by {made_by}; "
                              f"layerc supports the masks of Embedding(mask_zero=True) "
                              f"and Masking, carried by the layers that pass masks on and "
                              f"combined by the merge layers")
        return key

    def _check_merge_masks(self, klayer: Any, inputs: list[SymbolicTensor],
                           kinputs: Any) -> None:
        """A merge reads its inputs' masks (Keras: the masks attached to its
        inputs): each layerc input must carry the twin of its Keras input's
        mask. A file does not record those masks: layerc's are trusted."""
        where = f"from_keras: {label(klayer)}"
        for i, (kt, t) in enumerate(zip(kinputs, inputs)):
            kmask = attached_mask(kt)
            if kmask is UNKNOWN:
                continue
            theirs = self._their_mask(where, kmask)
            ours = layerc_key(t.mask)
            if not same_mask(ours, theirs):
                which = "Keras only" if ours is None else "layerc only" if theirs is None \
                    else "layerc other than Keras's"
                raise ConfigError(f"{where}: its input {i} carries a mask in {which}")

    def _check_mask(self, klayer: Any, layer: Layer, inputs: Any, keras_mask: Any) -> None:
        """Keras hands a layer its mask as the call's `mask` argument; the
        layerc twin must consume the twin of that mask, or none when Keras
        passes none. A call the file does not record its mask for (a
        Sequential's) trusts layerc's."""
        if keras_mask is UNKNOWN:
            return
        where = f"from_keras: {label(klayer)}"
        theirs = self._their_mask(where, keras_mask)
        first = inputs[0] if isinstance(inputs, list) else inputs
        if theirs is not None and same_mask(layerc_key(first.mask), theirs) \
                and getattr(layer, "mask_unused", False):
            return  # the mask reaches the layer and passes on, changing nothing there
        ours = layerc_key(first.mask) if layer.mask_mode == "consume" else None
        if same_mask(ours, theirs):
            return
        if theirs is None:
            why = " (Keras 3 drops the input's mask when initial_state is given)" \
                if isinstance(layer, Recurrent) else ""
            raise ConfigError(f"{where}: Keras calls it without a mask, but its layerc twin "
                              f"would apply the mask its input carries{why}")
        raise ConfigError(f"{where}: Keras calls it with a mask that its layerc twin would not "
                          f"apply")

    def _call(self, layer: Layer, inputs: Any, kwargs: dict[str, Any]) -> Any:
        if self.sequential is None:
            return layer(inputs, **kwargs)
        self.sequential.add(layer)  # a Sequential calls the layer on its last output
        return self.sequential.outputs[0]

    def _bind(self, node: Call, outs: list[SymbolicTensor]) -> None:
        klayer, kouts = node.operation, node.outputs
        if len(outs) < len(kouts) or (node.all_outputs and len(outs) != len(kouts)):
            raise ConfigError(f"from_keras: {label(klayer)}: gives {len(kouts)} output(s) in "
                              f"Keras but {len(outs)} in layerc")
        for kt, t in zip(kouts, outs):
            self.tensors[id(kt)] = t


def _flat(values: Any) -> list[Any]:
    """The values of a call's arguments, lists opened."""
    found: list[Any] = []
    for v in values:
        found += _flat(v) if isinstance(v, (list, tuple)) else [v]
    return found


def _copy_weights(klayer: Any, layer: Layer) -> None:
    form = WEIGHTS.get(class_name(klayer))
    weights = form(klayer, layer) if form else [np.asarray(w) for w in klayer.get_weights()]
    if not weights and not layer._weights:
        return
    try:
        layer.set_weights(weights)
    except LayercError as err:
        if source_file(klayer):  # weights that do not fit the file's own config
            raise ArtifactError(f"from_keras: {label(klayer)}: the file's weights do not fit "
                                f"it: {err}") from None
        raise type(err)(f"from_keras: {label(klayer)}: {err}") from None


def _copy_states(klayer: Any, layer: Layer) -> None:
    """A stateful Keras layer that has run keeps its states: so does the twin."""
    if not isinstance(layer, Recurrent) or not layer.stateful:
        return
    states = [np.array(s.numpy(), dtype=np.float32) for s in getattr(klayer, "states", None) or []
              if s is not None]
    if states and any(s.any() for s in states):
        layer.reset_states(states)
