"""CompiledModel: validates inputs, chunks batches within the arena cap
(runtime/chunks.py) and runs a program."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from layerc.codegen import build
from layerc.ir import ConfigError, Graph, InputError, OpKind, ShapeError, TensorType, rule_for
from layerc.runtime import chunks
from layerc.runtime import profile as profiling


def _describe(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def in_input_order(x: Any, names: list[str]) -> Any:
    """Inputs given as a dict by input name as a list in input order (the
    names exactly); anything else as it is."""
    if not isinstance(x, dict):
        return x
    missing = [n for n in names if n not in x]
    extra = [k for k in x if k not in names]
    if missing or extra:
        raise InputError(f"inputs by name need exactly {names}; missing {missing}, "
                         f"unknown {extra}")
    return [x[n] for n in names]


class CompiledModel:
    """A model compiled for one target. `predict` is safe to call from several
    threads at once: each thread runs in its own activation arena.

    `max_arena_bytes` (else LAYERC_MAX_ARENA_MB, else 256 MiB) caps the arena
    one predict runs in: a larger batch runs in chunks (runtime/chunks.py).
    It also bounds the arenas kept between calls: a quarter of it for all
    threads together, none larger than a sixteenth; they are freed with the
    model."""

    def __init__(self, graph: Graph, target: str = "cpu",
                 passes_applied: tuple[tuple[str, int], ...] = (),
                 pass_changes: tuple[tuple[str, tuple[str, ...]], ...] = (),
                 threads: int | None = None, max_arena_bytes: int | None = None) -> None:
        self.graph = graph
        self.target = target
        self.passes_applied = passes_applied  # (pass, rewrites)
        self.pass_changes = pass_changes  # (pass, what it changed, in words)
        self.max_arena_bytes = chunks.resolve_cap(max_arena_bytes)
        self.program = build(graph, target, threads)
        self.program.arenas.bound(self.max_arena_bytes // chunks.CACHE_SHARE,
                                  self.max_arena_bytes // chunks.KEEP_SHARE)
        self._chunk = chunks.chunk_samples(self.program.arena_size, self.max_arena_bytes)
        self._inputs = [graph.node(i) for i in graph.inputs]
        self._index_bounds = _index_bounds(graph)
        self._sample_shape = tuple(self._inputs[0].type.sample_shape) \
            if len(self._inputs) == 1 and not self._index_bounds else None
        # Serializes calls of a stateful model (re-entrant: a run from zero
        # state holds it around its own predict).
        self._lock = threading.RLock()
        self.state_batch = self._fixed_batch()
        # The program says where states live: a host array on the CPU, a device
        # buffer behind the same slice reads and writes for CUDA.
        self._state = self.program.new_state(self.program.state_size * (self.state_batch or 0))

    @property
    def threads(self) -> int | None:
        """The threads a CPU model runs on (None for other targets)."""
        return getattr(self.program, "threads", None)

    @property
    def input_specs(self) -> list[tuple[str, TensorType]]:
        return [(n.id, n.type) for n in self._inputs]

    @property
    def output_specs(self) -> list[tuple[str, TensorType]]:
        return [(str(p)[1:], self.graph.type_of(p)) for p in self.graph.outputs]

    def _fixed_batch(self) -> int | None:
        if not self.program.state_size:
            return None
        sizes = {n.attrs.batch_size for n in self._inputs}
        layers = ", ".join(self.program.state_slots)
        if None in sizes or len(sizes) != 1:
            raise ConfigError(f"stateful layer(s) {layers} need a fixed batch size: give the "
                              f"model's input batch_size= (or batch_input_shape= on the "
                              f"first layer)")
        return sizes.pop()

    def reset_states(self) -> None:
        """Zeros the states of every stateful layer."""
        with self._lock:
            self._state[:] = 0.0

    def _slot(self, layer: str) -> tuple[int, int, int]:
        if layer not in self.program.state_slots:
            raise ConfigError(f"layer {layer!r} keeps no state in this model")
        return self.program.state_slots[layer]

    def layer_states(self, layer: str) -> list[np.ndarray]:
        """Copies of a stateful layer's states, each (batch, units)."""
        offset, count, units = self._slot(layer)
        batch = self.state_batch or 0
        base = offset * batch
        return [self._state[base + i * batch * units: base + (i + 1) * batch * units]
                .reshape(batch, units).copy() for i in range(count)]

    def adopt_states(self, other: CompiledModel) -> None:
        """Takes over the states of another compiled version of the same model
        (after new weights), when its stateful layers are laid out alike."""
        if other.program.state_slots == self.program.state_slots and \
                other._state.shape == self._state.shape:
            with self._lock:
                self._state[:] = other._state

    def set_layer_states(self, layer: str, states: Any = None) -> None:
        """Zeros a stateful layer's states, or sets them (one (batch, units)
        array per state); a wrong count or shape changes nothing."""
        offset, count, units = self._slot(layer)
        batch = self.state_batch or 0
        base = offset * batch
        if states is None:
            with self._lock:
                self._state[base: base + count * batch * units] = 0.0
            return
        values = list(states) if isinstance(states, (list, tuple)) else [states]
        shapes = [np.shape(v) for v in values]
        if len(values) != count or any(s != (batch, units) for s in shapes):
            raise ShapeError(f"layer {layer!r}: expected {count} state array(s) of shape "
                             f"({batch}, {units}), got shapes {shapes}")
        with self._lock:
            for i, v in enumerate(values):
                self._state[base + i * batch * units: base + (i + 1) * batch * units] = \
                    np.asarray(v, np.float32).reshape(-1)

    def predict_from_zero_state(self, xs: Any) -> list[np.ndarray]:
        """The outputs of `xs` from zeroed states, leaving the states as they
        were, as one step: no other call sees the zeros or loses its update."""
        with self._lock:
            saved = np.array(self._state, np.float32)
            self._state[:] = 0.0
            try:
                outs = self.predict(xs)
            finally:
                self._state[:] = saved
        return list(outs) if isinstance(outs, list) else [outs]

    @property
    def index_bounds(self) -> dict[str, tuple[int, str]]:
        """For inputs read by an Embedding: (vocabulary size, its layer)."""
        return dict(self._index_bounds)

    def save(self, path: Any, key: bytes | None = None) -> None:
        """Writes an artifact (one zip file) that `layerc.load` reads back,
        signed with `key` (bytes; default: the contents of the file
        $LAYERC_SIGNING_KEY_FILE names, if set) so that `layerc.load(path,
        key=)` can tell it from one someone else wrote."""
        from layerc.runtime.artifact import save

        save(self, path, key)

    def __call__(self, x: Any, batch_size: int | None = None,
                 max_arena_bytes: int | None = None) -> Any:
        return self.predict(x, batch_size, max_arena_bytes)

    def predict(self, x: Any, batch_size: int | None = None,
                max_arena_bytes: int | None = None) -> Any:
        """The outputs for a batch. It runs in chunks of at most `batch_size`
        samples, and of at most as many as keep the arena within the cap
        (`max_arena_bytes` for this call, else the model's): the results are
        the same bit for bit. A stateful model runs chunks of exactly its
        fixed batch, whatever the cap, and if the call raises (an error, or a
        KeyboardInterrupt between chunks) its states are put back as they
        were before the call."""
        xs = self._check(x)
        batch = xs[0].shape[0]
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, int) or batch_size <= 0):
            raise InputError(f"batch_size must be a positive int, got {batch_size!r}")
        chunk = self._chunk if max_arena_bytes is None else chunks.chunk_samples(
            self.program.arena_size, chunks.checked_cap(max_arena_bytes, "max_arena_bytes"))
        if self.state_batch is not None:
            return self._predict_stateful(xs, batch, batch_size)
        if batch_size is not None and batch_size < chunk:
            chunk = batch_size
        if batch <= chunk:
            outs = self.program.run(xs, batch)
        else:
            outs = self._run_chunks(xs, batch, chunk)
        return outs[0] if len(outs) == 1 else outs

    def _run_chunks(self, xs: list[np.ndarray], batch: int, chunk: int) -> list[np.ndarray]:
        """Runs `chunk` samples at a time (the last chunk what is left), every
        chunk in the one arena; the outputs are whole-batch arrays."""
        outs = [np.empty((batch, *s.shape), np.float32) for s in self.program.outputs]
        arena = self.program.arenas.get(self.program.arena_size, chunk)
        for start in range(0, batch, chunk):
            stop = min(start + chunk, batch)
            parts = self.program.run([x[start:stop] for x in xs], stop - start, None, arena)
            for out, part in zip(outs, parts):
                out[start:stop] = part
        return outs

    def _predict_stateful(self, xs: list[np.ndarray], batch: int,
                          batch_size: int | None) -> Any:
        """Runs chunks of exactly the fixed batch size, in order; sample i of
        each chunk continues from the final state of sample i of the last.
        Any exception (KeyboardInterrupt too) puts the states back as they
        were before the call, so an interrupted stream can be run again."""
        size = self.state_batch
        assert size is not None
        if batch % size:
            raise InputError(f"this model has stateful layers built for batches of exactly "
                             f"{size} samples (or a multiple, run {size} at a time); got a "
                             f"batch of {batch}")
        if batch_size is not None and batch_size != size:
            raise InputError(f"this model has stateful layers built for batches of exactly "
                             f"{size} samples: batch_size must be {size} (or left out), got "
                             f"{batch_size}")
        outs = [np.empty((batch, *s.shape), np.float32) for s in self.program.outputs]
        with self._lock:
            saved = np.array(self._state, np.float32)
            try:
                arena = self.program.arenas.get(self.program.arena_size, size)
                for start in range(0, batch, size):
                    parts = self.program.run([x[start:start + size] for x in xs], size,
                                             self._state, arena)
                    for out, part in zip(outs, parts):
                        out[start:start + size] = part
            except BaseException:
                self._state[:] = saved
                raise
        return outs[0] if len(outs) == 1 else outs

    def profile(self, x: Any, rounds: int = 20) -> profiling.Profile:
        """Times each node of the program on the batch `x`: a
        `layerc.runtime.profile.Profile` (print it for a table) with each node's
        median time over `rounds`, its share, its GFLOP/s and their share of
        the float32 GEMM peak measured now (CPU only). Every round starts from
        the model's states, on a copy: they are the same afterwards."""
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds <= 0:
            raise InputError(f"rounds must be a positive int, got {rounds!r}")
        xs = self._check(x)
        batch = xs[0].shape[0]
        if self.state_batch is not None and batch != self.state_batch:
            raise InputError(f"this model has stateful layers built for batches of exactly "
                             f"{self.state_batch} samples: profile one such batch, got "
                             f"{batch}")
        spans = self.program.spans
        with self._lock:
            saved = np.array(self._state, np.float32)
            work = self.program.new_state(saved.size) if saved.size else None

            def reset() -> None:
                if work is not None:
                    work[:] = saved
            run_steps = self.program.stepper(xs, batch, work)
            medians, overhead, whole = profiling.measure(spans, run_steps, rounds, reset)
        peak, how = self._peak()
        return profiling.build(self, spans, medians, batch, rounds, overhead, whole, peak, how)

    def _peak(self) -> tuple[float | None, str]:
        """The float32 GEMM peak a profile compares with, and how it was had."""
        if self.target != "cpu":
            return None, (f"not measured for target {self.target!r}: the measured sgemm "
                          f"peak is the CPU's; times and GFLOP/s only")
        from layerc.runtime.peak import sgemm_gflops

        peak = sgemm_gflops(self.threads)
        return peak.gflops, f"measured now: {peak.how}"

    def _check(self, x: Any) -> list[np.ndarray]:
        if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous \
                and x.shape[1:] == self._sample_shape and x.ndim > 0:
            return [x]  # the common case, checked in a microsecond
        names = [n.id for n in self._inputs]
        x = in_input_order(x, names)
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
    """For each graph input whose values reach an op that reads indices
    (directly or through ops that only move values: views, reshapes), the
    smallest bound among those ops and its label."""
    bounds: dict[str, tuple[int, str]] = {}
    for node in graph.nodes():
        bound = rule_for(node.op).index_bound
        if bound is None:
            continue
        source = graph.node(node.inputs[0].node)
        while rule_for(source.op).rearranges:
            source = graph.node(source.inputs[0].node)
        if source.op is not OpKind.INPUT:
            continue  # computed indices: the kernel writes NaN rows when out of range
        size = bound(node.attrs)
        if source.id not in bounds or size < bounds[source.id][0]:
            bounds[source.id] = (size, node.label)
    return bounds
