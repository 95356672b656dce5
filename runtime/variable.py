"""A model whose inputs have unknown sizes besides the batch (variable-length
sequences, images of any size): compiled once per concrete input shape, on
first use, and kept in a small cache.

The symbolic graph (what `inspect` shows) keeps the unknown sizes; each
specialization re-traces the model with the concrete input shapes, so every
op is inferred, optimized, planned and lowered for them. Numba's kernels take
shapes as operands, so a new shape costs a trace, the passes and a lowering
(milliseconds), not a kernel build.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from layerc.errors import ConfigError, InputError, LayercError
from layerc.ir import Graph
from layerc.runtime.compiled_model import CompiledModel

CACHED_SHAPES = 8  # specializations kept, the least recently used dropped first
SAMPLE_SIZES = (8, 16, 32, 64)  # unknown sizes an artifact's self-test tries

Shapes = tuple[tuple[int, ...], ...]


class ShapeSpecializedModel:
    """`predict` like a CompiledModel's, for inputs whose declared shapes
    leave sizes unknown; `specialize(shapes)` compiles (or finds) the model
    for one set of input sample shapes."""

    def __init__(self, graph: Graph, target: str, build: Callable[[Shapes], CompiledModel],
                 pass_names: Sequence[str] = ()) -> None:
        self.graph = graph  # symbolic: unknown sizes are None
        self.target = target
        self.pass_names = list(pass_names)  # what each specialization runs (artifacts)
        self.state_batch = None  # stateful models take fixed sizes
        # The passes run per specialization, not on the symbolic graph.
        self.passes_applied: tuple = ()
        self.pass_changes: tuple = ()
        self._build = build
        self._inputs = [graph.node(i) for i in graph.inputs]
        self._cache: OrderedDict[Shapes, CompiledModel] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def input_specs(self) -> list[tuple[str, Any]]:
        return [(n.id, n.type) for n in self._inputs]

    @property
    def output_specs(self) -> list[tuple[str, Any]]:
        return [(str(p)[1:], self.graph.type_of(p)) for p in self.graph.outputs]

    @property
    def specializations(self) -> list[Shapes]:
        """The input sample shapes compiled so far, least recently used first."""
        return list(self._cache)

    def specialize(self, shapes: Shapes) -> CompiledModel:
        with self._lock:
            found = self._cache.get(shapes)
            if found is not None:
                self._cache.move_to_end(shapes)
                return found
        compiled = self._build(shapes)  # outside the lock: compiles run in parallel
        with self._lock:
            self._cache[shapes] = compiled
            self._cache.move_to_end(shapes)
            while len(self._cache) > CACHED_SHAPES:
                self._cache.popitem(last=False)
        return compiled

    def _shapes(self, x: Any) -> Shapes:
        arrays = x if isinstance(x, (list, tuple)) else (
            [x[n.id] for n in self._inputs if n.id in x] if isinstance(x, dict) else [x])
        if len(arrays) != len(self._inputs):
            raise InputError(f"the model takes {len(self._inputs)} input(s) "
                             f"({', '.join(n.id for n in self._inputs)}), got {len(arrays)}")
        shapes = []
        for node, value in zip(self._inputs, arrays):
            shape = np.shape(value)
            want = node.type
            if len(shape) != want.rank or any(
                    d is not None and d != s for d, s in zip(want.sample_shape, shape[1:])):
                raise InputError(f"input {node.id!r}: expected shape {want.shape} (None: any "
                                 f"size), got {shape}")
            if any(s == 0 for s in shape[1:]):
                raise InputError(f"input {node.id!r}: every size but the batch must be at "
                                 f"least 1, got {shape}")
            shapes.append(tuple(int(s) for s in shape[1:]))
        return tuple(shapes)

    def predict(self, x: Any, batch_size: int | None = None,
                max_arena_bytes: int | None = None) -> Any:
        return self.specialize(self._shapes(x)).predict(x, batch_size, max_arena_bytes)

    def predict_from_zero_state(self, xs: Any) -> list[np.ndarray]:
        return self.specialize(self._shapes(xs)).predict_from_zero_state(xs)

    def sample(self) -> CompiledModel:
        """A specialization for an artifact's self-test: each unknown size
        SAMPLE_SIZES[i] for the first i the model takes."""
        error: LayercError | None = None
        for size in SAMPLE_SIZES:
            shapes = tuple(tuple(size if d is None else d for d in n.type.sample_shape)
                           for n in self._inputs)
            try:
                return self.specialize(shapes)
            except LayercError as err:
                error = err
        raise ConfigError(f"model {self.graph.name}: no input size in {SAMPLE_SIZES} fits it "
                          f"for a self-test ({error})")

    def __call__(self, x: Any, batch_size: int | None = None,
                 max_arena_bytes: int | None = None) -> Any:
        return self.predict(x, batch_size, max_arena_bytes)

    def adopt_states(self, previous: Any) -> None:
        """Nothing to adopt: stateful models take fixed sizes (layerc.compile)."""

    def reset_states(self) -> None:
        """Nothing to reset: stateful models take fixed sizes (layerc.compile)."""

    def save(self, path: Any, key: bytes | None = None) -> None:
        """Writes a variable-length artifact: the symbolic graph, specialized
        per shape again when loaded (runtime/artifact.py); signed as
        CompiledModel.save signs."""
        from layerc.runtime.artifact import save

        save(self, path, key)
