"""CompiledModel: validates inputs, chunks batches and runs a program."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from layerc.codegen import build
from layerc.ir import Graph, InputError, OpKind, TensorType


def _describe(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


class CompiledModel:
    """A model compiled for one target. `predict` is safe to call from several
    threads at once: each thread runs in its own activation arena."""

    def __init__(self, graph: Graph, target: str = "cpu",
                 passes_applied: tuple[tuple[str, int], ...] = ()) -> None:
        self.graph = graph
        self.target = target
        self.passes_applied = passes_applied
        self.program = build(graph, target)
        self._inputs = [graph.node(i) for i in graph.inputs]
        self._index_bounds = _index_bounds(graph)
        self._sample_shape = tuple(self._inputs[0].type.sample_shape) \
            if len(self._inputs) == 1 and not self._index_bounds else None
        self._lock = threading.Lock()  # serializes stateful calls (none yet)

    @property
    def input_specs(self) -> list[tuple[str, TensorType]]:
        return [(n.id, n.type) for n in self._inputs]

    @property
    def output_specs(self) -> list[tuple[str, TensorType]]:
        return [(str(p)[1:], self.graph.type_of(p)) for p in self.graph.outputs]

    def reset_states(self) -> None:
        """Zeros the state of stateful layers (this model has none)."""

    def __call__(self, x: Any, batch_size: int | None = None) -> Any:
        return self.predict(x, batch_size)

    def predict(self, x: Any, batch_size: int | None = None) -> Any:
        xs = self._check(x)
        batch = xs[0].shape[0]
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, int) or batch_size <= 0):
            raise InputError(f"batch_size must be a positive int, got {batch_size!r}")
        if batch_size is None or batch_size >= batch:
            outs = self.program.run(xs, batch)
        else:
            outs = [np.empty((batch, *s.shape), np.float32) for s in self.program.outputs]
            for start in range(0, batch, batch_size):
                stop = min(start + batch_size, batch)
                parts = self.program.run([x[start:stop] for x in xs], stop - start)
                for out, part in zip(outs, parts):
                    out[start:stop] = part
        return outs[0] if len(outs) == 1 else outs

    def _check(self, x: Any) -> list[np.ndarray]:
        if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous \
                and x.shape[1:] == self._sample_shape and x.ndim > 0:
            return [x]  # the common case, checked in a microsecond
        names = [n.id for n in self._inputs]
        if isinstance(x, dict):
            missing = [n for n in names if n not in x]
            extra = [k for k in x if k not in names]
            if missing or extra:
                raise InputError(f"inputs by name need exactly {names}; missing {missing}, "
                                 f"unknown {extra}")
            x = [x[n] for n in names]
        if len(names) == 1 and not isinstance(x, (list, tuple)):
            x = [x]
        if not isinstance(x, (list, tuple)):
            raise InputError(f"the model takes {len(names)} inputs ({', '.join(names)}); "
                             f"pass a list or a dict of arrays, got {type(x).__name__}")
        if len(x) != len(names):
            raise InputError(f"the model takes {len(names)} input(s) ({', '.join(names)}), "
                             f"got {len(x)}")
        arrays = [self._check_one(node, value) for node, value in zip(self._inputs, x)]
        batches = {a.shape[0] for a in arrays}
        if len(batches) > 1:
            raise InputError(f"inputs {', '.join(names)} have different batch sizes "
                             f"{[a.shape[0] for a in arrays]}")
        return arrays

    def _check_one(self, node: Any, value: Any) -> np.ndarray:
        want = node.type
        array = np.asarray(value)
        bound = self._index_bounds.get(node.id)
        kinds = "iuf" if bound is not None or want.dtype.startswith("int") else "f"
        if array.dtype.kind not in kinds:
            what = "an integer (or float) array of indices" if "i" in kinds else "a float array"
            raise InputError(f"input {node.id!r}: expected {what}, got dtype {array.dtype}")
        if array.ndim != want.rank or array.shape[1:] != tuple(want.sample_shape):
            raise InputError(f"input {node.id!r}: expected shape {_describe(want.shape)}, "
                             f"got {_describe(array.shape)}")
        if bound is not None and array.size:
            size, label = bound
            low, high = array.min(), array.max()
            if low <= -1 or high >= size or np.isnan(low) or np.isnan(high):
                bad = low if low <= -1 or np.isnan(low) else high
                raise InputError(f"input {node.id!r}: index {bad} is outside [0, {size}) of "
                                 f"{label}")
        return np.ascontiguousarray(array, dtype=np.float32)


def _index_bounds(graph: Graph) -> dict[str, tuple[int, str]]:
    """For each graph input read (directly or through views) by an embedding,
    the smallest vocabulary size among those embeddings and its label."""
    bounds: dict[str, tuple[int, str]] = {}
    for node in graph.nodes():
        if node.op is not OpKind.EMBEDDING:
            continue
        source = graph.node(node.inputs[0].node)
        while source.op in (OpKind.VIEW, OpKind.RESHAPE, OpKind.DROPOUT, OpKind.FLATTEN):
            source = graph.node(source.inputs[0].node)
        if source.op is not OpKind.INPUT:
            continue  # computed indices: the kernel writes NaN rows when out of range
        size = node.attrs.input_dim
        if source.id not in bounds or size < bounds[source.id][0]:
            bounds[source.id] = (size, node.label)
    return bounds
