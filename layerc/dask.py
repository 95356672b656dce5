"""layerc.dask: batch scoring of a compiled model over Dask arrays and DataFrames,
on any Dask scheduler (a distributed cluster, or this process's threads).

The model travels as its artifact (the bytes of a `.lcz` file), once: the bytes
are one key of the task graph, which every chunk's task depends on, so a worker
receives them once per job (from the scheduler or from a peer), not with every
task. A worker process loads them once, with `layerc.load`'s checks (the sha256
of every part and the self-test), and every later task in that process finds
the loaded model in a small cache (`worker_loads()` counts the loads). Workers
need layerc, numpy and Dask; never Keras.

Stateful models are refused: their state would have to flow from chunk to
chunk in order, which chunks scored in parallel cannot do.

`import layerc` does not import this module (nor dask): `import layerc.dask`.
"""

from __future__ import annotations

import io
import json
import math
import operator
import os
import tempfile
import threading
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import dask
import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from layerc.errors import ArtifactError, ConfigError, InputError, ShapeError
from layerc.ir import Graph
from layerc.ir.specialize import with_input_shapes
from layerc.runtime import artifact
from layerc.runtime.compiled_model import CompiledModel, in_input_order
from layerc.runtime.variable import ShapeSpecializedModel

__all__ = ["predict", "predict_partitions", "worker_loads"]

ARTIFACT_KEY = "layerc-artifact-"  # + the artifact's sha256: one graph key per model
MODELS_KEPT = 4  # loaded models a worker process keeps, the least recently used dropped

Sample = tuple[int | None, ...]  # a sample's shape; None: a size the model leaves free


# ----- what a task carries besides the artifact bytes -----

@dataclass(frozen=True)
class ModelRef:
    """Finds a loaded model in a worker's cache without hashing the bytes
    again: the artifact's sha256, its name for errors, and the threads each
    predict runs on (None: LAYERC_NUM_THREADS where set, else one)."""
    sha256: str
    label: str
    threads: int | None


@dataclass(frozen=True)
class BlockJob:
    """What every chunk task of one `predict` shares: the model's input names,
    the samples' shapes, the outputs' sample shapes (for empty chunks) and
    how many chunks there are (for errors)."""
    inputs: tuple[str, ...]
    samples: tuple[tuple[int, ...], ...]
    outputs: tuple[tuple[int, ...], ...]
    chunks: int
    batch_size: int | None


@dataclass(frozen=True)
class Feed:
    """Where one input's values come from in a partition: several feature
    columns reshaped to `sample`, or one column holding an array per row."""
    input: str
    columns: tuple[str, ...]
    sample: Sample | None  # None: one column of arrays, each row's shape as it is


@dataclass(frozen=True)
class PartitionJob:
    """What every partition task of one `predict_partitions` shares."""
    feeds: tuple[Feed, ...]
    outputs: tuple[Sample, ...]
    names: tuple[tuple[str, ...], ...]  # the columns each output fills
    flat: bool  # one column per output value, or one per output
    partitions: int
    batch_size: int | None


# ----- the worker side: load once per process, then score chunks -----

_lock = threading.Lock()
_models: OrderedDict[tuple[str, int | None], Any] = OrderedDict()
_failures: dict[tuple[str, int | None], str] = {}
_loads: Counter[str] = Counter()
_artifacts: WeakKeyDictionary[Any, bytes] = WeakKeyDictionary()  # the client's saved models


def worker_loads() -> dict[str, int]:
    """How many times this process has loaded each artifact (by sha256): one
    per process, however many tasks ran there (`client.run(worker_loads)`)."""
    with _lock:
        return dict(_loads)


def _threads(threads: int | None) -> int | None:
    """A task's threads: Dask already runs a task per worker thread, so one
    layerc thread each (as Dask's nanny sets OMP_NUM_THREADS=1), unless
    `threads=` or LAYERC_NUM_THREADS says otherwise."""
    if threads is not None or os.environ.get("LAYERC_NUM_THREADS"):
        return threads
    return 1


def _where() -> str:
    try:
        from distributed import get_worker

        return f"worker {get_worker().address}"
    except (ImportError, ValueError):
        return f"process {os.getpid()}"


def _model(data: bytes, ref: ModelRef) -> Any:
    """The loaded model of `ref`, loading and checking it on first use in this
    process; a load that failed fails every later task at once, the same way.
    The lock makes a worker with several threads load a model once."""
    key = (ref.sha256, ref.threads)
    with _lock:
        if key in _failures:
            raise ArtifactError(_failures[key])
        model = _models.get(key)
        if model is None:
            try:
                model = _load(data, ref)
            except ArtifactError as err:
                _failures[key] = str(err)
                raise
            _loads[ref.sha256] += 1
            _models[key] = model
        _models.move_to_end(key)
        while len(_models) > MODELS_KEPT:
            _models.popitem(last=False)
    return model


def _load(data: bytes, ref: ModelRef) -> Any:
    import layerc

    if sha256(data).hexdigest() != ref.sha256:
        raise ArtifactError(f"{ref.label} on {_where()}: the bytes received differ from the "
                            f"ones sent (sha256 mismatch)")
    threads = _threads(ref.threads)
    return _with_file(data, f"{ref.label} on {_where()}",
                      lambda path: layerc.load(path, verify=True, threads=threads))


def _with_file(data: bytes, label: str, use: Callable[[str], Any]) -> Any:
    """`use(path)` on the bytes written to a temporary file (layerc's artifact
    reader takes paths); its ArtifactErrors name `label`, not the file."""
    with tempfile.TemporaryDirectory(prefix="layerc-dask-") as folder:
        path = os.path.join(folder, "model.lcz")
        Path(path).write_bytes(data)
        try:
            return use(path)
        except ArtifactError as err:
            raise ArtifactError(str(err).replace(f"artifact {path}", label)
                                .replace(path, label)) from None


def _block_position(job: BlockJob, index: int, start: int | None, stop: int | None) -> str:
    rows = f" (samples {start}:{stop})" if start is not None else ""
    return f"chunk {index} of {job.chunks}{rows}"


def _check_block(name: str, sample: tuple[int, ...], block: Any, rows: int | None,
                 position: str) -> None:
    shape = getattr(block, "shape", None)
    if shape is None or len(shape) != 1 + len(sample) or tuple(shape[1:]) != sample or \
            (rows is not None and shape[0] != rows):
        want = ("?" if rows is None else rows, *sample)
        raise InputError(f"input {name!r}, {position}: expected a block of shape {want}, got "
                         f"{shape if shape is not None else type(block).__name__}")


def _predict_block(data: bytes, ref: ModelRef, job: BlockJob, index: int, start: int | None,
                   stop: int | None, *blocks: Any) -> Any:
    """One chunk's outputs (a tuple for several): the task every chunk runs."""
    rows = None if start is None or stop is None else stop - start
    position = _block_position(job, index, start, stop)
    for name, sample, block in zip(job.inputs, job.samples, blocks):
        _check_block(name, sample, block, rows, position)
    batch = blocks[0].shape[0]
    if batch == 0:
        outs = [np.empty((0, *s), np.float32) for s in job.outputs]
    else:
        outs = _run(_model(data, ref), list(blocks), job.batch_size, position)
    return tuple(outs) if len(outs) > 1 else outs[0]


def _run(model: Any, xs: list[np.ndarray], batch_size: int | None,
         position: str) -> list[np.ndarray]:
    """`model.predict`, its input errors naming the chunk or partition."""
    try:
        outs = model.predict(xs if len(xs) > 1 else xs[0], batch_size)
    except (InputError, ShapeError) as err:
        raise type(err)(f"{position}: {err}") from None
    return list(outs) if isinstance(outs, list) else [outs]


# ----- the client side: the model as the manifest describes it -----

class _Source:
    """The client's view of a model: its artifact bytes, their ref, and the
    shapes of its inputs and outputs (from the manifest, or for output sizes
    that depend on free input sizes, inferred from graph.json)."""

    def __init__(self, data: bytes, label: str, threads: int | None,
                 graph: Graph | None = None) -> None:
        self.data = data
        self.ref = ModelRef(sha256(data).hexdigest(), label, threads)
        manifest = _manifest(data, label)
        self.inputs = _specs(manifest, "inputs", label)
        self.outputs = _specs(manifest, "outputs", label)
        self._graph = graph
        batch = manifest.get("stateful_batch_size")
        if batch is not None:
            raise ConfigError(f"layerc.dask: {label} has stateful layers (built for batches of "
                              f"{batch}): their state passes from one batch to the next in "
                              f"order, which chunks scored in parallel cannot do; run it with "
                              f"CompiledModel.predict in one process")

    def output_samples(self, samples: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
        """The outputs' sample shapes for inputs of sample shapes `samples`."""
        if all(None not in s for _, s in self.outputs):
            return [tuple(int(d) for d in s if d is not None) for _, s in self.outputs]
        if self._graph is None:
            self._graph = _with_file(self.data, self.ref.label,
                                     lambda path: artifact.read(path)[1])
        concrete = with_input_shapes(self._graph, samples)
        return [_known(concrete.type_of(p).sample_shape, f"output {p}") for p in concrete.outputs]


def _known(sample: Sample, what: str) -> tuple[int, ...]:
    if any(d is None for d in sample):
        raise ShapeError(f"{what}: sample shape {sample} stays unknown for the given inputs")
    return tuple(int(d) for d in sample if d is not None)


def _manifest(data: bytes, label: str) -> dict:
    """manifest.json of an artifact, read without checking the parts: the
    workers check them (hashes and self-test) before they run anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            manifest = json.loads(zf.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as err:
        raise ArtifactError(f"{label}: not a layerc artifact (no readable manifest.json: "
                            f"{err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != artifact.FORMAT:
        raise ArtifactError(f"{label}: manifest.json does not describe a layerc artifact")
    return manifest


def _specs(manifest: dict, key: str, label: str) -> list[tuple[str, Sample]]:
    try:
        return [(str(s["name"]), tuple(None if d is None else int(d) for d in s["shape"][1:]))
                for s in manifest[key]]
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ArtifactError(f"{label}: manifest.json has malformed {key} ({err})") from None


def _source(model: Any, threads: int | None) -> _Source:
    """The model as artifact bytes: a CompiledModel (or a variable-length
    one) is saved, a path read, bytes taken as they are."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads <= 0):
        raise ConfigError(f"layerc.dask: threads must be a positive int or None, got "
                          f"{threads!r}")
    if isinstance(model, CompiledModel) and model.state_batch is not None:
        layers = ", ".join(model.program.state_slots)
        raise ConfigError(f"layerc.dask: the model has stateful layers ({layers}, built for "
                          f"batches of {model.state_batch}): their state passes from one "
                          f"batch to the next in order, which chunks scored in parallel "
                          f"cannot do; run it with CompiledModel.predict in one process")
    if isinstance(model, (CompiledModel, ShapeSpecializedModel)):
        data = _saved(model)
        graph = model.graph if isinstance(model, ShapeSpecializedModel) else None
        return _Source(data, f"model {model.graph.name!r}", threads, graph)
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        return _Source(data, f"artifact bytes (sha256 {sha256(data).hexdigest()[:12]})",
                       threads)
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise ArtifactError(f"artifact {path}: {err.strerror or err}") from None
        return _Source(data, f"artifact {path}", threads)
    raise ConfigError(f"layerc.dask: model must be a CompiledModel, an artifact path or "
                      f"artifact bytes, got {type(model).__name__} (compile a layerc model "
                      f"first: layerc.compile(model))")


def _saved(model: Any) -> bytes:
    """The model's artifact, saved once per model object: a zip records the
    time it was written, so a second save would be another artifact to the
    workers, and loaded again."""
    data = _artifacts.get(model)
    if data is None:
        with tempfile.TemporaryDirectory(prefix="layerc-dask-") as folder:
            path = Path(folder) / "model.lcz"
            model.save(path)
            data = _artifacts[model] = path.read_bytes()
    return data


def _artifact_key(source: _Source) -> str:
    return ARTIFACT_KEY + source.ref.sha256


def _check_batch_size(batch_size: int | None) -> None:
    if batch_size is not None and (isinstance(batch_size, bool)
                                   or not isinstance(batch_size, int) or batch_size <= 0):
        raise InputError(f"batch_size must be a positive int, got {batch_size!r}")


# ----- predict over dask arrays -----

def predict(model: Any, x: Any, batch_size: int | None = None,
            threads: int | None = None) -> Any:
    """The model's outputs on `x`, as lazy dask arrays chunked like `x` along
    the batch (a list for several outputs, float32).

    `model` is a CompiledModel, an artifact path or artifact bytes. `x` is a
    dask array, or a list (in input order) or dict (by input name) of them,
    chunked along the batch axis; the other axes are rechunked to whole. Each
    chunk is one task, which runs `predict(chunk, batch_size)` on `threads`
    layerc threads (default: LAYERC_NUM_THREADS where set on the worker, else
    one, since Dask runs a task per worker thread)."""
    _check_batch_size(batch_size)
    source = _source(model, threads)
    arrays = _arrays(x, source.inputs)
    samples = tuple(tuple(int(d) for d in a.shape[1:]) for a in arrays)
    outputs = [tuple(s) for s in source.output_samples(samples)]
    batch_chunks = arrays[0].chunks[0]
    names = tuple(name for name, _ in source.inputs)
    job = BlockJob(names, samples, tuple(outputs), len(batch_chunks), batch_size)
    token = tokenize(source.ref, job, [a.name for a in arrays])
    name = f"layerc-predict-{token}"
    key = _artifact_key(source)
    layer: dict[Any, Any] = {key: source.data}
    single = len(outputs) == 1
    for i, (start, stop) in enumerate(_bounds(batch_chunks)):
        blocks = [(a.name, i, *([0] * (a.ndim - 1))) for a in arrays]
        out_key = (name, i, *([0] * len(outputs[0]))) if single else (name, i)
        layer[out_key] = (_predict_block, key, source.ref, job, i, start, stop, *blocks)
    inputs: list[Any] = list(arrays)  # dask's annotation wants its protocol type
    graph = HighLevelGraph.from_collections(name, layer, dependencies=inputs)
    if single:
        return _array(graph, name, batch_chunks, outputs[0])
    return [_output(graph, name, j, batch_chunks, sample) for j, sample in enumerate(outputs)]


def _bounds(chunks: tuple[float, ...]) -> list[tuple[int | None, int | None]]:
    """Each chunk's first and last-plus-one sample, None once a size is unknown."""
    bounds: list[tuple[int | None, int | None]] = []
    start: int | None = 0
    for size in chunks:
        stop = None if start is None or math.isnan(size) else start + int(size)
        bounds.append((start, stop))
        start = stop
    return bounds


def _array(graph: HighLevelGraph, name: str, batch_chunks: tuple[float, ...],
           sample: tuple[int, ...]) -> da.Array:
    chunks = (batch_chunks, *((d,) for d in sample))
    meta = np.empty((0,) * (1 + len(sample)), np.float32)
    return da.Array(graph, name, chunks, meta=meta)


def _output(graph: HighLevelGraph, name: str, j: int, batch_chunks: tuple[float, ...],
            sample: tuple[int, ...]) -> da.Array:
    """Output j of a model with several: a task per chunk picks it from the
    chunk's tuple of outputs."""
    out = f"layerc-output{j}-{name.removeprefix('layerc-predict-')}"
    picks = {(out, i, *([0] * len(sample))): (operator.getitem, (name, i), j)
             for i in range(len(batch_chunks))}
    layers: dict[str, Any] = {**graph.layers, out: picks}
    dependencies = {**graph.dependencies, out: {name}}
    return _array(HighLevelGraph(layers, dependencies), out, batch_chunks, sample)


def _arrays(x: Any, inputs: list[tuple[str, Sample]]) -> list[da.Array]:
    """`x` as one dask array per input, in input order, each checked against
    its input's shape, whole along every axis but the batch, and chunked
    alike along the batch."""
    names = [name for name, _ in inputs]
    x = in_input_order(x, names)
    if not isinstance(x, (list, tuple)):
        x = [x]
    if len(x) != len(names):
        raise InputError(f"the model takes {len(names)} input(s) ({', '.join(names)}), got "
                         f"{len(x)}")
    arrays = [_checked_array(name, sample, a) for (name, sample), a in zip(inputs, x)]
    return _aligned(arrays, names)


def _checked_array(name: str, sample: Sample, x: Any) -> da.Array:
    if not isinstance(x, da.Array):
        raise InputError(f"input {name!r}: expected a dask array (dask.array.from_array(x, "
                         f"chunks=...)), got {type(x).__name__}")
    want = "(None, " + ", ".join("None" if d is None else str(d) for d in sample) + ")"
    if x.ndim != 1 + len(sample):
        raise InputError(f"input {name!r}: expected shape {want}, got {x.shape}")
    for axis, (d, size) in enumerate(zip(sample, x.shape[1:]), 1):
        if math.isnan(size):
            raise InputError(f"input {name!r}: the size of axis {axis} is unknown; call "
                             f"compute_chunk_sizes() first")
        if (d is not None and size != d) or size == 0:
            raise InputError(f"input {name!r}: expected shape {want} (None: any size of at "
                             f"least 1), got {x.shape}")
    if x.dtype.kind not in "iuf":
        raise InputError(f"input {name!r}: expected a float array (or integer indices), got "
                         f"dtype {x.dtype}")
    return x.rechunk({axis: -1 for axis in range(1, x.ndim)})


def _aligned(arrays: list[da.Array], names: list[str]) -> list[da.Array]:
    """The inputs chunked along the batch as the first one is."""
    first = arrays[0]
    sizes = [a.shape[0] for a in arrays]
    if any(s != sizes[0] for s in sizes):
        raise InputError(f"inputs {', '.join(names)} have different batch sizes {sizes}")
    aligned = [first]
    for name, a in zip(names[1:], arrays[1:]):
        if a.chunks[0] != first.chunks[0]:
            if any(math.isnan(c) for c in (*a.chunks[0], *first.chunks[0])):
                raise InputError(f"input {name!r} is chunked along the batch unlike input "
                                 f"{names[0]!r}, and the sizes are unknown; chunk them alike")
            a = a.rechunk({0: first.chunks[0]})
        aligned.append(a)
    return aligned


# ----- predict over dask DataFrames -----

def predict_partitions(model: Any, ddf: Any, columns: Any, output_names: Any,
                       batch_size: int | None = None, threads: int | None = None) -> Any:
    """`ddf` with the model's outputs appended as columns, partition by
    partition (lazy, like any dask DataFrame).

    `columns` says where the input comes from: a list of feature columns,
    read row by row and reshaped to the input's sample shape (784 columns for
    an input of (28, 28, 1)); or one column name whose cells are arrays of
    the sample shape; or for several inputs a dict from input name to either.
    `output_names` names the new columns: one per output value (10 names for
    an output of (10,), outputs in order), or one per output, which gets a
    float32 column when the output has one value a sample, else a column of
    arrays."""
    import pandas as pd

    _check_batch_size(batch_size)
    source = _source(model, threads)
    feeds = _feeds(columns, source.inputs, list(ddf.columns))
    _check_array_columns(feeds, ddf._meta)
    samples = [f.sample for f in feeds]
    if all(s is not None and None not in s for s in samples):
        outputs: list[Sample] = list(source.output_samples(
            [tuple(int(d) for d in s if d is not None) for s in samples if s is not None]))
    else:
        outputs = [s for _, s in source.outputs]
    names, flat = _output_columns(output_names, outputs, list(ddf.columns))
    job = PartitionJob(tuple(feeds), tuple(outputs), names, flat, ddf.npartitions, batch_size)
    meta = ddf._meta.assign(**{c: pd.Series(dtype=dtype) for c, dtype in
                               _output_dtypes(job)})
    data = dask.delayed(source.data, name=_artifact_key(source), pure=True)
    return ddf.map_partitions(_predict_partition, data, source.ref, job, meta=meta)


def _feeds(columns: Any, inputs: list[tuple[str, Sample]], present: list[Any]) -> list[Feed]:
    names = [name for name, _ in inputs]
    if not isinstance(columns, dict):
        if len(inputs) > 1:
            raise ConfigError(f"the model takes {len(inputs)} inputs ({', '.join(names)}): give "
                              f"columns as a dict from input name to its columns")
        columns = {names[0]: columns}
    missing = [n for n in names if n not in columns]
    extra = [k for k in columns if k not in names]
    if missing or extra:
        raise ConfigError(f"columns by input name need exactly {names}; missing {missing}, "
                          f"unknown {extra}")
    feeds = [_feed(name, sample, columns[name]) for name, sample in inputs]
    absent = [c for f in feeds for c in f.columns if c not in present]
    if absent:
        raise ConfigError(f"the DataFrame has no column(s) {absent}; it has {present}")
    return feeds


def _check_array_columns(feeds: list[Feed], meta: Any) -> None:
    """A column of arrays that dask already turned into strings: its
    `dataframe.convert-string` (on by default) converts object columns."""
    import pandas as pd

    for feed in feeds:
        column = feed.columns[0]
        if feed.sample is None and isinstance(meta[column].dtype, pd.StringDtype):
            raise InputError(f"input {feed.input!r}: column {column!r} holds strings, not "
                             f"arrays; dask turns object columns into strings unless "
                             f"dask.config.set({{'dataframe.convert-string': False}}) is in "
                             f"effect when the DataFrame is made")


def _feed(name: str, sample: Sample, columns: Any) -> Feed:
    """Input `name`'s columns, and its sample shape with a free size filled in
    from the number of feature columns."""
    if isinstance(columns, str):
        return Feed(name, (columns,), None)
    columns = tuple(columns)
    known = math.prod(d for d in sample if d is not None)
    free = sum(d is None for d in sample)
    if not columns or (free == 0 and known != len(columns)) or free > 1 or \
            len(columns) % known:
        raise ConfigError(f"input {name!r} takes samples of shape {sample} ({known} values"
                          f"{' times any size' if free else ''}); got {len(columns)} feature "
                          f"columns (give one column of arrays for an input with several "
                          f"free sizes)")
    filled = tuple(len(columns) // known if d is None else d for d in sample)
    return Feed(name, columns, filled)


def _output_columns(output_names: Any, outputs: list[Sample],
                    present: list[Any]) -> tuple[tuple[tuple[str, ...], ...], bool]:
    """The columns of each output and whether they are one per output value."""
    names = [output_names] if isinstance(output_names, str) else list(output_names)
    clash = [n for n in names if n in present]
    if clash or len(set(names)) != len(names):
        raise ConfigError(f"output_names must be new, distinct column names; "
                          f"{clash or names} repeat existing or each other")
    values = [math.prod(d for d in s if d is not None) if None not in s else None
              for s in outputs]
    if None not in values and len(names) == sum(v for v in values if v is not None):
        groups, at = [], 0
        for count in values:
            assert count is not None
            groups.append(tuple(names[at: at + count]))
            at += count
        return tuple(groups), True
    if len(names) == len(outputs):
        return tuple((n,) for n in names), False
    total = "?" if None in values else str(sum(v for v in values if v is not None))
    raise ConfigError(f"output_names: the model's outputs {outputs} take {total} names (one "
                      f"per value) or {len(outputs)} (one per output); got {len(names)}")


def _output_dtypes(job: PartitionJob) -> list[tuple[str, Any]]:
    dtypes = []
    for sample, names in zip(job.outputs, job.names):
        scalar = job.flat or (None not in sample and math.prod(
            d for d in sample if d is not None) == 1)
        dtypes += [(n, np.float32 if scalar else object) for n in names]
    return dtypes


def _predict_partition(part: Any, data: bytes, ref: ModelRef, job: PartitionJob,
                       partition_info: dict | None = None) -> Any:
    """One partition with the output columns appended: the task every
    partition runs."""
    number = partition_info["number"] if partition_info else "?"
    position = f"partition {number} of {job.partitions}"
    xs = [_partition_input(part, feed, position) for feed in job.feeds]
    if len(part) == 0:
        columns = {n: np.empty(0, dtype) for n, dtype in _output_dtypes(job)}
        return part.assign(**columns)
    outs = _run(_model(data, ref), xs, job.batch_size, position)
    return part.assign(**_columns(job, outs))


def _partition_input(part: Any, feed: Feed, position: str) -> np.ndarray:
    if feed.sample is not None:
        values = part[list(feed.columns)].to_numpy()
        if values.dtype.kind not in "iuf":
            raise InputError(f"input {feed.input!r}, {position}: columns {list(feed.columns)} "
                             f"hold {values.dtype} values, expected numbers")
        return values.reshape((len(part), *(d for d in feed.sample if d is not None)))
    cells = list(part[feed.columns[0]])
    try:
        return np.stack([np.asarray(c) for c in cells]) if cells else np.empty((0,))
    except ValueError as err:
        raise InputError(f"input {feed.input!r}, {position}: column {feed.columns[0]!r} "
                         f"holds arrays of different shapes ({err})") from None


def _columns(job: PartitionJob, outs: list[np.ndarray]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for names, y in zip(job.names, outs):
        flat = y.reshape(len(y), -1)
        if job.flat or flat.shape[1] == 1:
            columns.update({n: flat[:, k] for k, n in enumerate(names)})
        else:
            cells = np.empty(len(y), object)
            cells[:] = list(y)
            columns[names[0]] = cells
    return columns
