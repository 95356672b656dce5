"""Artifacts: one zip file per compiled model, and loading one back.

The zip holds three parts and nothing executable:
  manifest.json  format version, layerc version, target, input/output specs,
                 passes applied, the sha256 of every other part, and a
                 self-test (a small input and the outputs it gave when saved);
  graph.json     the optimized IR (`layerc.ir.to_json`), or for a model with
                 variable-length inputs the traced one with its unknown sizes,
                 which loading specializes per input shape (`symbolic`);
  weights.npz    the weights by name, read back with allow_pickle=False.
Loading regenerates the program from graph.json (the kernel library comes from
the numba cache), checks every hash and re-runs the self-test.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from layerc.ir import ArtifactError, Graph, LayercError, from_json, to_json

FORMAT = "layerc-artifact"
# 1: a compiled graph; 2 adds variable-length artifacts ("symbolic": the
# traced graph with unknown sizes and the passes to run per shape), which
# only version 2 readers know, so only they are written as 2.
FORMAT_VERSION = 2
PARTS = ("graph.json", "weights.npz")
# Loading may run on another machine or thread count: a reduction order may
# differ, so the self-test allows float32 rounding, not a different answer.
SELF_TEST_RTOL = 1e-4
SELF_TEST_ATOL = 1e-5


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _spec(name: str, t: Any) -> dict:
    return {"name": name, "shape": list(t.shape), "dtype": t.dtype}


def random_inputs(model: Any, batch: int | None = None, seed: int = 0) -> list[np.ndarray]:
    """Deterministic inputs for a compiled model: `batch` samples (default: a
    stateful model's fixed batch, else one), indices within each embedding's
    vocabulary."""
    rng = np.random.default_rng(seed)
    batch = batch or model.state_batch or 1
    xs = []
    for name, t in model.input_specs:
        shape = (batch, *t.sample_shape)
        bound = model.index_bounds.get(name)
        if bound is not None:
            xs.append(rng.integers(0, bound[0], shape).astype(np.float32))
        else:
            xs.append(rng.uniform(-1.0, 1.0, shape).astype(np.float32))
    return xs


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub
    return buffer.getvalue()


def _layerc_version() -> str:
    # From the installed metadata: the runtime does not import the frontend.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("layerc")
    except PackageNotFoundError:
        return "unknown"


def manifest_for(model: Any, parts: dict[str, bytes]) -> dict:
    symbolic = hasattr(model, "pass_names")  # a ShapeSpecializedModel
    xs = random_inputs(model.sample() if symbolic else model)
    ys = model.predict_from_zero_state(xs)
    extra = {"symbolic": True, "passes": model.pass_names} if symbolic else {}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION if symbolic else 1,
        **extra,
        "layerc_version": _layerc_version(),
        "target": model.target,
        "inputs": [_spec(n, t) for n, t in model.input_specs],
        "outputs": [_spec(n, t) for n, t in model.output_specs],
        "stateful_batch_size": model.state_batch,
        "passes_applied": [[name, changed] for name, changed in model.passes_applied],
        "pass_changes": [[name, list(lines)] for name, lines in model.pass_changes],
        "sha256": {name: _sha256(data) for name, data in parts.items()},
        "self_test": {
            "inputs": [{"shape": list(x.shape), "values": x.reshape(-1).tolist()} for x in xs],
            "outputs": [{"shape": list(y.shape), "values": y.reshape(-1).tolist()} for y in ys],
            "rtol": SELF_TEST_RTOL,
            "atol": SELF_TEST_ATOL,
        },
    }


def save(model: Any, path: str | os.PathLike) -> None:
    """Writes `model` to `path` atomically: a temporary file in the same folder,
    renamed over `path` only once complete; on any error the old file stays."""
    path = os.fspath(path)
    graph = model.graph
    parts = {
        "graph.json": json.dumps(to_json(graph), indent=1, sort_keys=True).encode(),
        "weights.npz": _npz({k: np.ascontiguousarray(v) for k, v in graph.weights.items()}),
    }
    manifest = json.dumps(manifest_for(model, parts), indent=1).encode()
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=folder)
    except OSError as err:
        raise ArtifactError(f"cannot write artifact {path}: {err.strerror or err}") from None
    try:
        os.fchmod(fd, _file_mode(path))  # mkstemp's 0600 would keep other users out
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("manifest.json", manifest)
                for name, data in parts.items():
                    zf.writestr(name, data)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, ArtifactError):
            raise ArtifactError(f"cannot write artifact {path}: "
                                f"{err.strerror or err}") from err
        raise


def _file_mode(path: str) -> int:
    """An existing artifact's permissions, else what the umask gives a new file."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


class _Reader:
    """Reads and checks the parts of one artifact; errors name the file."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise self.error("no such file") from None
        except IsADirectoryError:
            raise self.error("is a folder, not an artifact") from None
        except (zipfile.BadZipFile, EOFError, OSError) as err:
            raise self.error(f"not a layerc artifact (not a readable zip file: {err})") from None

    def error(self, problem: str) -> ArtifactError:
        return ArtifactError(f"artifact {self.path}: {problem}")

    def read(self, name: str) -> bytes:
        try:
            return self.zip.read(name)
        except KeyError:
            raise self.error(f"part {name} is missing") from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
            raise self.error(f"part {name} is corrupt or truncated ({err})") from None

    def manifest(self) -> dict:
        try:
            manifest = json.loads(self.read("manifest.json"))
        except ValueError as err:
            raise self.error(f"manifest.json is not valid JSON ({err})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise self.error("manifest.json does not describe a layerc artifact")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise self.error(f"bad format_version {version!r}")
        if version > FORMAT_VERSION:
            raise self.error(f"format version {version} is newer than this layerc reads "
                             f"({FORMAT_VERSION}); upgrade layerc")
        hashes = manifest.get("sha256")
        if not isinstance(hashes, dict) or sorted(hashes) != sorted(PARTS):
            raise self.error(f"manifest.json must list the sha256 of {', '.join(PARTS)}")
        for key, kind in (("target", str), ("inputs", list), ("outputs", list),
                          ("self_test", dict)):
            if not isinstance(manifest.get(key), kind):
                raise self.error(f"manifest.json lacks a valid {key!r}")
        return manifest

    def part(self, name: str, manifest: dict) -> bytes:
        data = self.read(name)
        if _sha256(data) != manifest["sha256"][name]:
            raise self.error(f"part {name} does not match its sha256 in manifest.json "
                             f"(the file was modified or damaged)")
        return data


def read(path: str | os.PathLike) -> tuple[dict, Graph]:
    """The manifest and the optimized graph (with its weights) of an artifact."""
    reader = _Reader(os.fspath(path))
    with reader.zip:
        manifest = reader.manifest()
        graph_data = reader.part("graph.json", manifest)
        weight_data = reader.part("weights.npz", manifest)
    try:
        with np.load(io.BytesIO(weight_data), allow_pickle=False) as npz:
            weights = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise reader.error(f"weights.npz cannot be read ({err})") from None
    try:
        graph = from_json(json.loads(graph_data), weights)
    except (LayercError, ValueError, KeyError, TypeError) as err:
        raise reader.error(f"graph.json does not describe a valid graph ({err})") from None
    return manifest, graph


def check_self_test(model: Any, manifest: dict, path: str) -> None:
    """Re-runs the manifest's self-test; ArtifactError when outputs differ."""
    try:
        test = manifest["self_test"]
        xs = [np.array(t["values"], np.float32).reshape(t["shape"]) for t in test["inputs"]]
        want = [np.array(t["values"], np.float32).reshape(t["shape"]) for t in test["outputs"]]
        rtol, atol = float(test["rtol"]), float(test["atol"])
    except (KeyError, TypeError, ValueError) as err:
        raise ArtifactError(f"artifact {path}: malformed self_test in manifest.json "
                            f"({err})") from None
    try:
        got = model.predict_from_zero_state(xs)
    except LayercError as err:
        raise ArtifactError(f"artifact {path}: the self-test input does not fit the model "
                            f"({err})") from None
    for i, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape or not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
            worst = float(np.max(np.abs(g - w))) if g.shape == w.shape else float("nan")
            raise ArtifactError(
                f"artifact {path}: self-test failed on target {model.target}: output {i} "
                f"differs from the saved one (max |diff| {worst:.3g}, allowed "
                f"{atol:g} + {rtol:g}*|value|)")
    if len(got) != len(want):
        raise ArtifactError(f"artifact {path}: self-test expected {len(want)} outputs, "
                            f"the model gives {len(got)}")


def load(path: str | os.PathLike, target: str | None = None, verify: bool = True,
         threads: int | None = None, max_arena_bytes: int | None = None) -> Any:
    """A CompiledModel from an artifact, for its own target or `target`, on
    `threads` threads (CPU), its predicts capped at `max_arena_bytes` of
    arena (see compile; neither is saved in the artifact: they are this
    machine's settings). Stateful layers start from zero state."""
    from layerc.runtime.chunks import resolve_cap
    from layerc.runtime.compiled_model import CompiledModel

    path = os.fspath(path)
    cap = resolve_cap(max_arena_bytes, "load")
    manifest, graph = read(path)
    if manifest.get("symbolic"):
        return _load_symbolic(path, manifest, graph, target, verify, threads, cap)
    try:
        passes = tuple((str(n), int(c)) for n, c in manifest.get("passes_applied", []))
        changes = tuple((str(n), tuple(map(str, lines)))
                        for n, lines in manifest.get("pass_changes", []))
    except (TypeError, ValueError) as err:
        raise ArtifactError(f"artifact {path}: malformed pass list in manifest.json "
                            f"({err})") from None
    model = CompiledModel(graph, target or manifest["target"], passes, changes, threads, cap)
    return _checked(model, manifest, path, verify)


def _checked(model: Any, manifest: dict, path: str, verify: bool) -> Any:
    """`model`, once its input and output specs match the manifest's and (with
    `verify`) it passes the self-test."""
    for key, specs in (("inputs", model.input_specs), ("outputs", model.output_specs)):
        mine = [_spec(n, t) for n, t in specs]
        if mine != manifest[key]:
            raise ArtifactError(f"artifact {path}: manifest {key} {manifest[key]} do not "
                                f"match graph.json's {mine}")
    if verify:
        check_self_test(model, manifest, path)
    return model


def _load_symbolic(path: str, manifest: dict, graph: Graph, target: str | None, verify: bool,
                   threads: int | None, cap: int) -> Any:
    """A variable-length artifact: a ShapeSpecializedModel over its graph,
    running the recorded passes per input shape."""
    from layerc.compiler import compile
    from layerc.passes import by_name

    try:
        passes = [by_name(str(name)) for name in manifest["passes"]]
    except (KeyError, TypeError) as err:
        raise ArtifactError(f"artifact {path}: bad pass list in manifest.json ({err})") from None
    if not any(d is None for i in graph.inputs for d in graph.node(i).type.sample_shape):
        raise ArtifactError(f"artifact {path}: marked symbolic, but its inputs have no "
                            f"unknown sizes")
    model = compile(graph, target or manifest["target"], passes, threads=threads,
                    max_arena_bytes=cap)
    return _checked(model, manifest, path, verify)
