"""Artifacts: one zip file per compiled model, and loading one back.

The zip holds three parts and nothing executable:
  manifest.json  format version, layerc version, target, input/output specs,
                 passes applied, the sha256 of every other part, and a
                 self-test (a small input and the outputs it gave when saved);
  graph.json     the optimized IR (`layerc.ir.to_json`), or for a model with
                 variable-length inputs the traced one with its unknown sizes,
                 which loading specializes per input shape (`symbolic`);
  weights.npz    the weights by name, read back with allow_pickle=False;
and, when saved with a key, a fourth:
  signature.json an HMAC-SHA256 of manifest.json (which holds the sha256 of
                 the other parts) under the key.
Loading regenerates the program from graph.json (the kernel library comes from
the numba cache), checks every hash and re-runs the self-test.

The hashes find damage, not forgery: whoever edits graph.json can write its
new sha256 into the manifest. So every part is read as untrusted input: the
manifest's fields and graph.json's structure are checked field by field,
graph.json's types, pads and kernel variants are derived again and compared
(ir.from_json, ir.verify, ir.specialize), the weights must be the float32
arrays of the shapes the nodes need, and anything amiss is an ArtifactError
that names the part (and the node). Only a signature checked with the key
(`load(key=)`, LAYERC_SIGNING_KEY_FILE, LAYERC_REQUIRE_SIGNATURE=1; signing.py) tells an
artifact from its author from one someone else wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from layerc.ir import (ArtifactError, Graph, LayercError, TargetError, from_json,
                       rule_for, to_json, verify)
from layerc.ir.specialize import specialized_window
from layerc.runtime.signing import ALGORITHM, KEY_FILE_ENV, REQUIRE_ENV, required, signing_key
from layerc.runtime.signing import signature as manifest_signature

FORMAT = "layerc-artifact"
# 1: a compiled graph; 2 adds variable-length artifacts ("symbolic": the
# traced graph with unknown sizes and the passes to run per shape), which
# only version 2 readers know, so only they are written as 2.
FORMAT_VERSION = 2
PARTS = ("graph.json", "weights.npz")
SIGNATURE = "signature.json"
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


# ----- saving -----
def save(model: Any, path: str | os.PathLike, key: Any = None) -> None:
    """Writes `model` to `path` atomically: a temporary file in the same folder,
    renamed over `path` only once complete; on any error the old file stays.
    With a key (`key`, else $LAYERC_SIGNING_KEY_FILE's), the manifest is
    signed (signature.json)."""
    path = os.fspath(path)
    key = signing_key(key)
    graph = model.graph
    parts = {
        "graph.json": json.dumps(to_json(graph), indent=1, sort_keys=True).encode(),
        # float32, as every kernel reads them (and as loading requires)
        "weights.npz": _npz({k: np.ascontiguousarray(v, dtype=np.float32)
                             for k, v in graph.weights.items()}),
    }
    manifest = json.dumps(manifest_for(model, parts), indent=1).encode()
    if key is not None:
        parts[SIGNATURE] = json.dumps({"algorithm": ALGORITHM,
                                       "signature": manifest_signature(manifest, key)}).encode()
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


# ----- reading -----
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
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
            raise self.error(f"not a layerc artifact (not a readable zip file: {err})") from None
        names = self.zip.namelist()
        unknown = sorted({n for n in names if n not in ("manifest.json", *PARTS, SIGNATURE)})
        twice = sorted({n for n in names if names.count(n) > 1})
        problem = "part manifest.json is missing" if "manifest.json" not in names else \
            f"holds parts a layerc artifact has not: {', '.join(unknown)}" if unknown else \
            f"holds a part twice: {', '.join(twice)}" if twice else ""
        if problem:
            self.zip.close()
            raise self.error(problem)

    def error(self, problem: str) -> ArtifactError:
        return ArtifactError(f"artifact {self.path}: {problem}")

    def read(self, name: str) -> bytes:
        try:
            return self.zip.read(name)
        except KeyError:
            raise self.error(f"part {name} is missing") from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError,
                RuntimeError) as err:
            raise self.error(f"part {name} is corrupt or truncated ({err})") from None

    def authentic(self, manifest: bytes, key: bytes | None) -> None:
        """With a key, the manifest's signature must be there and be right."""
        if key is None:
            if required():
                raise self.error(f"{REQUIRE_ENV}=1 requires a signed artifact checked with a "
                                 f"key, and none was given: pass load(..., key=) or set "
                                 f"{KEY_FILE_ENV}")
            return
        if SIGNATURE not in self.zip.namelist():
            raise self.error("is not signed, and a key was given to check its signature "
                             "(an artifact saved with save(..., key=) is)")
        try:
            record = json.loads(self.read(SIGNATURE))
            algorithm, signature = record["algorithm"], record["signature"]
        except (ValueError, KeyError, TypeError):
            raise self.error(f"{SIGNATURE} is malformed") from None
        if algorithm != ALGORITHM or not isinstance(signature, str):
            raise self.error(f"{SIGNATURE}: unknown algorithm {algorithm!r} (layerc signs "
                             f"with {ALGORITHM})")
        if not hmac.compare_digest(signature.encode(), manifest_signature(manifest, key).encode()):
            raise self.error("its signature does not match: it was changed after it was "
                             "signed, or signed with another key")

    def manifest(self, key: bytes | None) -> dict:
        data = self.read("manifest.json")
        self.authentic(data, key)  # before anything in it is believed
        try:
            manifest = json.loads(data)
        except (ValueError, RecursionError) as err:
            raise self.error(f"manifest.json is not valid JSON ({err})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise self.error("manifest.json does not describe a layerc artifact")
        version = manifest.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise self.error(f"bad format_version {version!r}")
        if version > FORMAT_VERSION:
            raise self.error(f"format version {version} is newer than this layerc reads "
                             f"({FORMAT_VERSION}); upgrade layerc")
        problem = _manifest_problem(manifest)
        if problem:
            raise self.error(f"manifest.json: {problem}")
        return manifest

    def part(self, name: str, manifest: dict) -> bytes:
        data = self.read(name)
        if _sha256(data) != manifest["sha256"][name]:
            raise self.error(f"part {name} does not match its sha256 in manifest.json "
                             f"(the file was modified or damaged)")
        return data


def _manifest_problem(m: dict) -> str:
    """What is wrong with the fields of a manifest, or '' (their values are
    compared with graph.json's when the model is built)."""
    hashes = m.get("sha256")
    if not isinstance(hashes, dict) or sorted(hashes) != sorted(PARTS) or not all(
            isinstance(h, str) and len(h) == 64 for h in hashes.values()):
        return f"it must list the sha256 of {', '.join(PARTS)}"
    for key, kind in (("target", str), ("inputs", list), ("outputs", list),
                      ("self_test", dict)):
        if not isinstance(m.get(key), kind):
            return f"it lacks a valid {key!r}"
    checks: tuple[tuple[str, Any], ...] = (
        ("passes_applied", lambda v: _pairs(v, str, int)),
        ("pass_changes", lambda v: _pairs(v, str, list) and all(
            isinstance(line, str) for _, lines in v for line in lines)),
        ("stateful_batch_size", lambda v: v is None or _int(v) and v >= 1),
        ("layerc_version", lambda v: isinstance(v, str)),
        ("symbolic", lambda v: isinstance(v, bool)),
        ("passes", lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v)),
    )
    for key, valid in checks:
        if key in m and not valid(m[key]):
            return f"{key!r} is malformed"
    if m.get("symbolic") and "passes" not in m:
        return "a symbolic artifact lists the passes to run per input shape in 'passes'"
    return _self_test_problem(m["self_test"])


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _pairs(v: Any, first: type, second: type) -> bool:
    return isinstance(v, list) and all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], first)
        and isinstance(p[1], second) and not isinstance(p[1], bool) for p in v)


def _self_test_problem(test: dict) -> str:
    for key in ("rtol", "atol"):
        value = test.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or \
                not 0 <= value < math.inf:
            return f"self_test {key!r} must be a number >= 0"
    for key in ("inputs", "outputs"):
        arrays = test.get(key)
        if not isinstance(arrays, list):
            return f"self_test {key!r} must be a list"
        for i, a in enumerate(arrays):
            if not isinstance(a, dict) or not isinstance(a.get("shape"), list) or \
                    not isinstance(a.get("values"), list) or \
                    not all(_int(d) and d >= 0 for d in a["shape"]) or \
                    math.prod(a["shape"]) != len(a["values"]) or \
                    not all(isinstance(v, float) or _int(v) and abs(v) < 1e38
                            for v in a["values"]):
                return (f"self_test {key}[{i}] must be a shape and as many float32 values "
                        f"as it holds")
    return ""


def _weights(reader: _Reader, data: bytes) -> dict[str, np.ndarray]:
    """The arrays of weights.npz: float32 all."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            weights = {k: npz[k] for k in npz.files}
    except Exception as err:  # noqa: BLE001  (numpy and zipfile parse untrusted bytes: their
        # errors are no closed set, MemoryError and NotImplementedError among them)
        raise reader.error(f"weights.npz cannot be read ({type(err).__name__}: "
                           f"{str(err)[:200]})") from None
    for name, w in sorted(weights.items()):
        if w.dtype != np.float32:
            raise reader.error(f"weights.npz: weight {name!r} is {w.dtype}, not float32")
    return weights


def read(path: str | os.PathLike, key: Any = None) -> tuple[dict, Graph]:
    """The manifest and the optimized graph (with its weights) of an artifact,
    checked part by part (see the module's docstring); with a key (`key`,
    else $LAYERC_SIGNING_KEY_FILE's), its signature too."""
    key = signing_key(key)
    reader = _Reader(os.fspath(path))
    with reader.zip:
        manifest = reader.manifest(key)
        graph_data = reader.part("graph.json", manifest)
        weight_data = reader.part("weights.npz", manifest)
    weights = _weights(reader, weight_data)
    try:
        document = json.loads(graph_data)
    except (ValueError, RecursionError) as err:
        raise reader.error(f"graph.json is not valid JSON ({err})") from None
    try:
        graph = from_json(document, weights)
        verify(graph)
    except LayercError as err:
        raise reader.error(f"graph.json: {_one_line(err)}") from None
    problem = _symbolic_problem(graph) if manifest.get("symbolic") else _compiled_problem(graph)
    if problem:
        raise reader.error(f"graph.json: {problem}")
    return manifest, graph


def _one_line(err: BaseException) -> str:
    # verify's errors show the nodes around in more lines; the first says it all
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _compiled_problem(graph: Graph) -> str:
    """What a compiled graph holds that the passes would not have made, or ''.
    Window ops have the pads and kernel variant specialize-padding derives
    (or none: code generation then derives them itself); every size is known;
    there is a memory plan (whose offsets the plan verifier checks)."""
    if graph.memory_plan is None:
        return "a compiled graph has a memory plan, and this one has none"
    for node in graph.nodes():
        for t in node.types:
            if any(d is None for d in t.sample_shape):
                return f"node %{node.id} ({node.label}): unknown size in {t}"
        if rule_for(node.op).window is None or not node.inputs:
            continue
        derived = specialized_window(node, graph.type_of(node.inputs[0]))
        unspecialized = getattr(node.attrs, "pads", None) is None and \
            getattr(node.attrs, "variant", "") == ""
        if derived != node.attrs and not unspecialized:
            return (f"node %{node.id} ({node.label}): pads {node.attrs.pads} / variant "
                    f"{getattr(node.attrs, 'variant', None)!r} differ from the "
                    f"{derived.pads} / {getattr(derived, 'variant', None)!r} that "
                    f"specialize-padding gives")
    return ""


def _symbolic_problem(graph: Graph) -> str:
    """A variable-length artifact holds the traced graph: no memory plan (the
    passes run per input shape), and some input has an unknown size."""
    if graph.memory_plan is not None:
        return "marked symbolic, but it holds a compiled graph (a memory plan)"
    if not any(d is None for i in graph.inputs for d in graph.node(i).type.sample_shape):
        return "marked symbolic, but its inputs have no unknown sizes"
    return ""


def check_self_test(model: Any, manifest: dict, path: str) -> None:
    """Re-runs the manifest's self-test; ArtifactError when outputs differ
    (its fields were checked when the manifest was read)."""
    test = manifest["self_test"]
    xs = [np.array(t["values"], np.float32).reshape(t["shape"]) for t in test["inputs"]]
    want = [np.array(t["values"], np.float32).reshape(t["shape"]) for t in test["outputs"]]
    rtol, atol = float(test["rtol"]), float(test["atol"])
    try:
        got = model.predict_from_zero_state(xs)
    except LayercError as err:
        raise ArtifactError(f"artifact {path}: the self-test input does not fit the model "
                            f"({_one_line(err)})") from None
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
         threads: int | None = None, key: Any = None,
         max_arena_bytes: int | None = None) -> Any:
    """A CompiledModel from an artifact, for its own target or `target`, on
    `threads` threads (CPU), its predicts capped at `max_arena_bytes` of
    arena (see compile; neither is saved in the artifact: they are this
    machine's settings). Stateful layers start from zero state.
    With a key (`key`: bytes, else the contents of $LAYERC_SIGNING_KEY_FILE)
    the artifact must carry a signature made with it; LAYERC_REQUIRE_SIGNATURE=1
    refuses to load without a key."""
    from layerc.runtime.chunks import resolve_cap
    from layerc.runtime.compiled_model import CompiledModel

    path = os.fspath(path)
    cap = resolve_cap(max_arena_bytes, "load")
    manifest, graph = read(path, key)
    _check_specs(graph, manifest, path)
    if manifest.get("symbolic"):
        return _load_symbolic(path, manifest, graph, target, verify, threads, cap)
    passes = tuple((n, c) for n, c in manifest.get("passes_applied", []))
    changes = tuple((n, tuple(lines)) for n, lines in manifest.get("pass_changes", []))
    try:
        model = CompiledModel(graph, target or manifest["target"], passes, changes, threads,
                              cap)
    except TargetError:
        raise  # the target is unknown or unavailable here: not the artifact's fault
    except LayercError as err:
        raise ArtifactError(f"artifact {path}: graph.json does not make a program: "
                            f"{_one_line(err)}") from None
    batch = manifest.get("stateful_batch_size", model.state_batch)
    if batch != model.state_batch:
        raise ArtifactError(f"artifact {path}: manifest.json gives the stateful batch size "
                            f"{batch}, graph.json's inputs {model.state_batch}")
    return _checked(model, manifest, path, verify)


def _check_specs(graph: Graph, manifest: dict, path: str) -> None:
    """The manifest's input and output specs are graph.json's."""
    specs = {"inputs": [(i, graph.node(i).type) for i in graph.inputs],
             "outputs": [(str(p)[1:], graph.type_of(p)) for p in graph.outputs]}
    for key, found in specs.items():
        mine = [_spec(n, t) for n, t in found]
        if mine != manifest[key]:
            raise ArtifactError(f"artifact {path}: manifest {key} {manifest[key]} do not "
                                f"match graph.json's {mine}")


def _checked(model: Any, manifest: dict, path: str, verify: bool) -> Any:
    """`model`, once (with `verify`) it passes the self-test."""
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
        passes = [by_name(name) for name in manifest["passes"]]
    except KeyError as err:
        raise ArtifactError(f"artifact {path}: bad pass list in manifest.json ({err})") from None
    model = compile(graph, target or manifest["target"], passes, threads=threads,
                    max_arena_bytes=cap)
    return _checked(model, manifest, path, verify)
