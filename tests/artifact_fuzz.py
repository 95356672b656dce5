"""The artifact fuzzer's parts (tests/runtime/test_artifact_fuzz.py).

Small artifacts of several model kinds; single edits of one of their parts
(a field of graph.json or manifest.json, bytes of weights.npz, or one of its
arrays) with the manifest's sha256 recomputed, as a forger would; and workers
that load each edited artifact and run `predict` on it in a fresh process,
many cases per process, each case's start and outcome on a line of its own,
so that a crash (a signal) or a hang (no outcome in time) is pinned on the
case that was running. An outcome is one of
  refused    a layerc.LayercError (ArtifactError or another subclass)
  same       loading and predicting worked and gave the original's outputs
  different  it worked and gave other outputs
  escaped    another exception left layerc.load or predict
  crash      the process died of a signal
  hang       no outcome within the time allowed
and the first two are the only right ones.

As a script: `python tests/artifact_fuzz.py fuzz --cases 3000 [--seed N]`
runs a long fuzz and prints the outcomes by kind and exception type (the
test, tests/runtime/test_artifact_fuzz.py, takes LAYERC_FUZZ_CASES and
LAYERC_FUZZ_SEED for the same); `... worker JOB.json` is the worker the
runs start.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

OK = ("refused", "same")
PARTS = ("graph.json", "weights.npz")
# Outputs may differ from the saving process's by float rounding (the
# self-test's own allowance), never by more.
RTOL, ATOL = 1e-4, 1e-5
WORKER_MEMORY = 6 << 30  # bytes of address space a worker may map: a forged
# size must fail with an error, not take the machine's memory


# ----- the model kinds -----
def _conv2d():
    import layerc
    from layerc.layers import (AveragePooling2D, BatchNormalization, Conv2D, DepthwiseConv2D,
                               Dense, Flatten, MaxPooling2D, SeparableConv2D, ZeroPadding2D)

    layerc.utils.set_random_seed(11)
    return layerc.Sequential([
        ZeroPadding2D(((1, 0), (2, 1)), input_shape=(11, 10, 3)),
        Conv2D(4, 3, strides=2, activation="relu"),  # fold-padding: explicit pads
        DepthwiseConv2D(3, padding="same"),
        Conv2D(5, 3, padding="same", dilation_rate=2),
        BatchNormalization(),
        SeparableConv2D(6, 2, padding="same"),
        Conv2D(6, 3, padding="same", activation="relu"),
        MaxPooling2D(2),
        AveragePooling2D(2, strides=1, padding="same"),
        Flatten(),
        Dense(3),
    ], name="conv2d")


def _conv1d():
    import layerc
    from layerc.layers import (Conv1D, Cropping1D, Dense, GlobalAveragePooling1D,
                               LocallyConnected1D, MaxPooling1D, UpSampling1D)

    layerc.utils.set_random_seed(12)
    return layerc.Sequential([
        Conv1D(4, 3, padding="causal", dilation_rate=2, input_shape=(13, 3)),
        MaxPooling1D(3, strides=2, padding="same"),
        UpSampling1D(2),
        Cropping1D((1, 2)),
        LocallyConnected1D(3, 2, strides=2),
        Conv1D(5, 2, strides=2, padding="same", activation="tanh"),
        GlobalAveragePooling1D(),
        Dense(2),
    ], name="conv1d")


def _recurrent():
    import layerc
    from layerc.layers import GRU, LSTM, Bidirectional, Dense, Masking, SimpleRNN

    layerc.utils.set_random_seed(13)
    return layerc.Sequential([
        Masking(0.0, input_shape=(7, 5)),
        LSTM(6, return_sequences=True),
        Bidirectional(GRU(4, return_sequences=True)),
        SimpleRNN(3),
        Dense(2),
    ], name="recurrent")


def _stateful():
    import layerc
    from layerc.layers import LSTM, Dense, SimpleRNN

    layerc.utils.set_random_seed(14)
    return layerc.Sequential([
        LSTM(6, stateful=True, return_sequences=True, batch_input_shape=(3, 4, 5)),
        SimpleRNN(4, stateful=True),
        Dense(2),
    ], name="stateful")


def _multi_io():
    import layerc
    from layerc.layers import (Add, Concatenate, Dense, Embedding, Flatten, LayerNormalization,
                               Multiply, Reshape)

    layerc.utils.set_random_seed(15)
    a = layerc.Input((6,), name="a")
    b = layerc.Input((4, 3), name="b")
    ids = layerc.Input((5,), dtype="int32", name="ids")
    ha = Dense(8, activation="relu")(a)
    hb = Dense(8)(Flatten()(b))
    merged = LayerNormalization()(Add()([ha, hb]))
    embedded = Flatten()(Embedding(20, 4)(ids))
    joined = Concatenate()([merged, embedded, Multiply()([ha, hb])])
    first = Dense(3, activation="softmax", name="first")(joined)
    second = Reshape((2, 2))(Dense(4, name="second")(ha))
    return layerc.Model([a, b, ids], [first, second], name="multi_io")


def _variable():
    import layerc
    from layerc.layers import Conv1D, Dense, GlobalMaxPooling1D

    layerc.utils.set_random_seed(16)
    return layerc.Sequential([
        Conv1D(5, 3, padding="same", activation="relu", input_shape=(None, 4)),
        GlobalMaxPooling1D(),
        Dense(2),
    ], name="variable")


BUILT_IN = {"conv2d": _conv2d, "conv1d": _conv1d, "recurrent": _recurrent,
            "stateful": _stateful, "multi_io": _multi_io, "variable": _variable}


def model_kinds() -> dict[str, Any]:
    """name -> a function building the model: examples/' models and the above."""
    import runpy

    from example_helpers import MODEL_EXAMPLES

    kinds: dict[str, Any] = {}
    for path in MODEL_EXAMPLES:
        kinds[path.stem] = runpy.run_path(str(path), run_name="example")["build_model"]
    kinds.update(BUILT_IN)
    return kinds


# ----- pristine artifacts -----
def make_artifacts(folder: Path, kinds: dict[str, Any] | None = None) -> dict[str, dict]:
    """Compiles and saves each model kind into `folder`, with an input (not
    the self-test's) and the outputs it gives: name -> {"artifact", "data"}."""
    import layerc
    from layerc.runtime.artifact import random_inputs

    made = {}
    for name, build in (model_kinds() if kinds is None else kinds).items():
        compiled = layerc.compile(build())
        path = folder / f"{name}.lcz"
        compiled.save(path)
        model = compiled.sample() if hasattr(compiled, "sample") else compiled
        xs = random_inputs(model, seed=7)
        ys = _as_list(compiled.predict(xs if len(xs) > 1 else xs[0]))  # from zero states
        data = folder / f"{name}.npz"
        np.savez(data, **{f"x{i}": x for i, x in enumerate(xs)},
                 **{f"y{i}": y for i, y in enumerate(ys)})
        made[name] = {"artifact": str(path), "data": str(data)}
    return made


def _as_list(y: Any) -> list:
    return list(y) if isinstance(y, list) else [y]


def read_parts(path: str | Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_parts(path: str | Path, parts: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


# ----- edits -----
@dataclass(frozen=True)
class Edit:
    """One change to one part of one model kind's artifact.
    part: graph.json or manifest.json (op set/delete/duplicate at `path`, a
    list of keys and indices), weights.npz (op flip/set/truncate at byte
    `path[0]`), or weights (an array of weights.npz re-saved: op
    drop/add/rename/dtype/reshape/fill of array `path[0]`)."""

    model: str
    part: str
    path: tuple
    op: str
    value: Any = None

    def to_json(self) -> dict:
        return {"model": self.model, "part": self.part, "path": list(self.path), "op": self.op,
                "value": self.value}

    @classmethod
    def from_json(cls, data: dict) -> Edit:
        return cls(data["model"], data["part"], tuple(data["path"]), data["op"], data["value"])

    def __str__(self) -> str:
        where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in self.path)
        value = "" if self.op in ("delete", "duplicate") else f" {json.dumps(self.value)[:60]}"
        return f"{self.model}: {self.part}{where} {self.op}{value}"


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _apply_json(doc: Any, edit: Edit) -> Any:
    if not edit.path:
        return edit.value if edit.op == "set" else doc
    doc = copy.deepcopy(doc)
    parent = _get(doc, edit.path[:-1])
    key = edit.path[-1]
    if edit.op == "set":
        parent[key] = edit.value
    elif edit.op == "delete":
        del parent[key]
    elif edit.op == "duplicate":
        parent.insert(key, copy.deepcopy(parent[key]))
    else:
        raise ValueError(f"unknown JSON edit {edit.op}")
    return doc


def _apply_bytes(data: bytes, edit: Edit) -> bytes:
    at = min(edit.path[0], len(data) - 1)
    if edit.op == "flip":
        return data[:at] + bytes([data[at] ^ edit.value]) + data[at + 1:]
    if edit.op == "set":
        return data[:at] + bytes([edit.value]) + data[at + 1:]
    if edit.op == "truncate":
        return data[:at]
    raise ValueError(f"unknown byte edit {edit.op}")


def _apply_arrays(data: bytes, edit: Edit) -> bytes:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    name = edit.path[0]
    if edit.op == "drop":
        del arrays[name]
    elif edit.op == "add":  # another array beside `name`
        arrays[name + "_extra"] = np.zeros(edit.value, np.float32)
    elif edit.op == "rename":
        arrays[edit.value] = arrays.pop(name)
    elif edit.op == "dtype":
        arrays[name] = np.array([{"x": 1}], object) if edit.value == "object" else \
            arrays[name].astype(edit.value)
    elif edit.op == "reshape":
        a = arrays[name]
        arrays[name] = {"flat": a.reshape(-1), "transpose": a.T, "extra_axis": a[None],
                        "scalar": np.float32(a.reshape(-1)[0] if a.size else 0.0),
                        "shorter": a[:-1] if a.ndim else a, "empty": a.reshape(-1)[:0]
                        }[edit.value]
    elif edit.op == "fill":
        arrays[name] = np.full_like(arrays[name], edit.value)
    else:
        raise ValueError(f"unknown weights edit {edit.op}")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def apply(parts: dict[str, bytes], edit: Edit) -> dict[str, bytes]:
    """The artifact's parts with `edit` made and the sha256 of every part
    recomputed in the manifest (when it still has a place for them)."""
    import hashlib

    parts = dict(parts)
    if edit.part in ("graph.json", "manifest.json"):
        doc = json.loads(parts[edit.part])
        parts[edit.part] = json.dumps(_apply_json(doc, edit), indent=1).encode()
    elif edit.part == "weights.npz":
        parts["weights.npz"] = _apply_bytes(parts["weights.npz"], edit)
    else:
        parts["weights.npz"] = _apply_arrays(parts["weights.npz"], edit)
    manifest = json.loads(parts["manifest.json"])
    if isinstance(manifest, dict) and isinstance(manifest.get("sha256"), dict):
        for name in PARTS:
            if name in manifest["sha256"]:
                manifest["sha256"][name] = hashlib.sha256(parts[name]).hexdigest()
        parts["manifest.json"] = json.dumps(manifest, indent=1).encode()
    return parts


# ----- drawing edits (hypothesis) -----
def is_plan_value(path: tuple) -> bool:
    """Whether `path` in graph.json is where the memory plan puts a tensor,
    or its arena size: values only the plan verifier (codegen) can judge."""
    return path[:2] == ("memory_plan", "arena_size") or (
        path[:2] == ("memory_plan", "offsets") and len(path) == 4 and path[3] == 2)


def edits(pristine: dict[str, dict[str, bytes]], plan_values: bool = True) -> Any:
    """A hypothesis strategy of Edits of the pristine artifacts' parts
    (model name -> its parts). Without `plan_values`, the memory plan's
    offsets and arena size are given only values of another type."""
    from hypothesis import strategies as st

    # Parsed once: drawing an edit only reads these.
    docs = {(m, part): json.loads(parts[part]) for m, parts in pristine.items()
            for part in ("graph.json", "manifest.json")}
    strings = {key: _strings(doc) for key, doc in docs.items()}
    spots = {m: _byte_spots(parts["weights.npz"]) for m, parts in pristine.items()}
    names = {}
    for m, parts in pristine.items():
        with np.load(io.BytesIO(parts["weights.npz"]), allow_pickle=False) as npz:
            names[m] = sorted(npz.files)

    @st.composite
    def draw(draw: Any) -> Edit:
        model = draw(st.sampled_from(sorted(pristine)))
        part = draw(st.sampled_from(["graph.json", "graph.json", "manifest.json",
                                     "weights.npz", "weights"]))
        if part in ("graph.json", "manifest.json"):
            edit = _json_edit(draw, model, part, docs[model, part], strings[model, part])
            if not plan_values and part == "graph.json" and is_plan_value(edit.path) and \
                    isinstance(edit.value, int) and not isinstance(edit.value, bool):
                return Edit(model, part, edit.path, "set", None)
            return edit
        if part == "weights.npz":
            return _byte_edit(draw, model, spots[model])
        return _array_edit(draw, model, names[model])

    return draw()


def _strings(doc: Any) -> list[str]:
    if isinstance(doc, str):
        return [doc]
    items = doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else []
    return sorted({s for item in items for s in _strings(item)})


def _json_edit(draw: Any, model: str, part: str, doc: Any, strings: list[str]) -> Edit:
    """A path into the document, drawn a level at a time (so the small
    sections are edited as often as the long lists), and a change there."""
    from hypothesis import strategies as st

    path: list = []
    here = doc
    while isinstance(here, (dict, list)) and here:
        keys = sorted(here) if isinstance(here, dict) else list(range(len(here)))
        if part == "manifest.json" and not path:
            keys = [k for k in keys if k != "sha256"]  # recomputed after every edit
        # Stop at this container with probability 1 / (children + 1), at least 1/8.
        if path and draw(st.integers(0, min(len(keys), 7))) == 0:
            break
        key = draw(st.sampled_from(keys))
        path.append(key)
        here = here[key]
    container = path and isinstance(_get(doc, tuple(path[:-1])), list)
    changes = [("set", v) for v in _replacements(here, strings)]
    if path:
        changes.append(("delete", None))
        if container:
            changes.append(("duplicate", None))
    op, value = draw(st.sampled_from(changes))
    return Edit(model, part, tuple(path), op, value)


def _replacements(value: Any, strings: list[str]) -> list:
    wrong = ["x", None, [], {}, True, 1.5]
    if isinstance(value, bool):
        return [not value, 0, 1, "true", None, []]
    if isinstance(value, int):
        return [value + 1, value - 1, 0, -1, -value, 2, 2 ** 31, 2 ** 63, 10 ** 30, 16 * value + 16,
                str(value), [value], *wrong]
    if isinstance(value, float):
        return [value + 1, -value, 0.0, 1e300, -1e300, math.nan, math.inf, -math.inf, 2 * value,
                str(value), [value], None, True]
    if isinstance(value, str):
        return [value + "_x", "", value.upper(), *strings[:40], 0, None, [value], {}]
    if value is None:
        return [0, 1, -1, "x", [], [0], [[0, 0]], {}, True, 2 ** 40]
    if isinstance(value, list):
        extra = [value[::-1], value[:1], value + value[-1:], [value]] if value else []
        return [*extra, [], None, "x", {}, 0]
    return [{}, None, [], "x", 0, {**value, "unknown": 1}]


def _byte_spots(data: bytes) -> list[tuple[int, int]]:
    """(start, length) of the regions of weights.npz where a changed byte
    means more than a changed weight (which the zip's CRC catches): each
    member's zip header and .npy header, the last member and the central
    directory; and the whole file."""
    spots = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            spots.append((info.header_offset, 30 + len(info.filename) + 128 + 16))
        end = max(info.header_offset for info in zf.infolist())
    return [*spots, (end, len(data) - end), (0, len(data))]


def _byte_edit(draw: Any, model: str, spots: list[tuple[int, int]]) -> Edit:
    """A byte of weights.npz flipped, set, or the file cut there."""
    from hypothesis import strategies as st

    start, length = draw(st.sampled_from(spots))
    at = start + draw(st.integers(0, max(length - 1, 0)))
    op = draw(st.sampled_from(["flip", "flip", "set", "truncate"]))
    value = {"flip": draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128, 255])),
             "set": draw(st.sampled_from([0, 0xFF, ord("0"), ord("9"), ord("<")])),
             "truncate": None}[op]
    return Edit(model, "weights.npz", (at,), op, value)


def _array_edit(draw: Any, model: str, names: list[str]) -> Edit:
    from hypothesis import strategies as st

    name = draw(st.sampled_from(names))
    op = draw(st.sampled_from(["drop", "add", "rename", "dtype", "reshape", "fill"]))
    value = {
        "drop": None,
        "add": draw(st.sampled_from([[], [3], [2, 2]])),
        "rename": draw(st.sampled_from([name + "_x", *names])),
        "dtype": draw(st.sampled_from(["float64", "float16", "int32", "bool", "complex64",
                                       "uint8", "object", "<U2"])),
        "reshape": draw(st.sampled_from(["flat", "transpose", "extra_axis", "scalar",
                                         "shorter", "empty"])),
        "fill": draw(st.sampled_from([math.nan, math.inf, 1e30, 0.0])),
    }[op]
    return Edit(model, "weights", (name,), op, value)


def draw_edits(made: dict[str, dict], count: int, seed: int | None = None,
               plan_values: bool = False) -> list[Edit]:
    """`count` edits (fewer once duplicates are dropped) of the artifacts
    `made`, drawn by hypothesis: derandomized (the same every time) unless
    a `seed` is given."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed

    pristine = {name: read_parts(m["artifact"]) for name, m in made.items()}
    drawn: dict[str, Edit] = {}

    @settings(max_examples=count, database=None, phases=[Phase.generate],
              derandomize=seed is None, suppress_health_check=list(HealthCheck), deadline=None)
    @given(edit=edits(pristine, plan_values))
    def collect(edit: Edit) -> None:
        drawn.setdefault(str(edit), edit)

    if seed is not None:
        collect = with_seed(seed)(collect)
    collect()
    return list(drawn.values())


def plan_sweep(made: dict[str, dict]) -> list[Edit]:
    """Every memory plan's values moved, one at a time: each tensor's offset
    by +1, +16 and -16 floats, to 16 * offset + 16, to the arena's end and
    16 floats before it, to 2**31 - 1 and to 0; the arena size to 0, 16,
    half and 16 floats less. What the plan verifier (codegen) is to refuse."""
    cases = []
    for model, m in sorted(made.items()):
        plan = json.loads(read_parts(m["artifact"])["graph.json"])["memory_plan"]
        if plan is None:
            continue
        arena = plan["arena_size"]
        for i, (_, _, offset) in enumerate(plan["offsets"]):
            for value in dict.fromkeys((offset + 1, offset + 16, offset - 16, 16 * offset + 16,
                                        arena, arena - 16, 2**31 - 1, 0)):
                if value >= 0 and value != offset:
                    cases.append(Edit(model, "graph.json", ("memory_plan", "offsets", i, 2),
                                      "set", value))
        for value in (0, 16, arena // 2, arena - 16):
            cases.append(Edit(model, "graph.json", ("memory_plan", "arena_size"), "set", value))
    return cases


def tally(outcomes: list[Outcome]) -> dict[str, int]:
    """How many outcomes of each kind, the wrong ones by exception type."""
    counts: dict[str, int] = {}
    for o in outcomes:
        key = o.kind
        if o.kind in ("escaped", "refused"):
            key += " " + o.detail.split(":")[0]
        elif o.kind == "crash":
            key += " " + o.detail.split(":")[0].split(" (")[0]
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# ----- running cases -----
@dataclass
class Outcome:
    edit: Edit
    kind: str  # OK or another outcome of the module docstring
    detail: str = ""  # the exception (type: first line) or the difference

    def __str__(self) -> str:
        return f"{self.kind:9} {self.edit} -> {self.detail}"


START, DONE = "@@fuzz-start ", "@@fuzz-done "


def run(edits_: list[Edit], made: dict[str, dict], workers: int = 2,
        case_timeout: float = 120.0) -> list[Outcome]:
    """Each edit's outcome, run `workers` processes at a time, many cases
    per process; a case that crashed or hung its process, or gave a wrong
    outcome, is run again alone in a process of its own, whose outcome is
    the one reported (another case may have left the process damaged)."""
    outcomes: dict[int, Outcome] = {}
    _run_all(edits_, made, [list(range(i, len(edits_), workers)) for i in range(workers)],
             workers, case_timeout, outcomes)
    again = [[i] for i, o in sorted(outcomes.items()) if o.kind not in OK]
    _run_all(edits_, made, again, workers, case_timeout, outcomes)
    return [outcomes[i] for i in range(len(edits_))]


def _run_all(edits_: list[Edit], made: dict[str, dict], jobs: list[list[int]], workers: int,
             timeout: float, outcomes: dict[int, Outcome]) -> None:
    """Runs each list of cases in `jobs` in processes of its own, `workers`
    at a time."""
    waiting = [ids for ids in jobs if ids]
    running: list[_Worker] = []
    while waiting or running:
        while waiting and len(running) < workers:
            running.append(_Worker(edits_, made, waiting.pop(0), timeout))
        for w in list(running):
            w.poll(outcomes)
            if w.finished:
                running.remove(w)
        time.sleep(0.01)


class _Worker:
    """One worker process at a time over `ids`, restarted after a crash or
    a hang for the cases left."""

    def __init__(self, edits_: list[Edit], made: dict[str, dict], ids: list[int],
                 timeout: float) -> None:
        self.edits, self.made, self.left, self.timeout = edits_, made, list(ids), timeout
        self.finished = False
        self.proc: subprocess.Popen | None = None
        self._start()

    def _start(self) -> None:
        if not self.left:
            self.finished = True
            return
        job = {"made": self.made, "cases": [[i, self.edits[i].to_json()] for i in self.left]}
        fd, self.job = tempfile.mkstemp(suffix=".json", prefix="layerc-fuzz-")
        with os.fdopen(fd, "w") as f:
            json.dump(job, f)
        env = dict(os.environ, LAYERC_NUM_THREADS="1", LAYERC_PROGRESS="0")
        self.proc = subprocess.Popen([sys.executable, __file__, "worker", self.job],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                     start_new_session=True)
        self.buffer = b""
        self.errors = b""
        self.current: int | None = None
        self.done: list[int] = []
        self.deadline = time.monotonic() + self.timeout + 60  # imports and kernels first

    def _read(self, outcomes: dict[int, Outcome], wait: float = 0.0) -> bool:
        """Takes in what the worker wrote; False at the end of its output."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None and proc.stderr is not None
        readable, _, _ = select.select([proc.stdout, proc.stderr], [], [], wait)
        more = False
        for stream in readable:
            chunk = os.read(stream.fileno(), 1 << 16)
            more = more or bool(chunk)
            if stream is proc.stderr:
                self.errors = (self.errors + chunk)[-4000:]
            else:
                self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            text = line.decode(errors="replace")
            if text.startswith(START):
                self.current = int(text[len(START):])
                self.deadline = time.monotonic() + self.timeout
            elif text.startswith(DONE):
                i, kind, detail = json.loads(text[len(DONE):])
                outcomes[i] = Outcome(self.edits[i], kind, detail)
                self.left.remove(i)
                self.done.append(i)
                self.current = None
        return more

    def poll(self, outcomes: dict[int, Outcome]) -> None:
        if self.finished:
            return
        proc = self.proc
        assert proc is not None
        self._read(outcomes)
        if proc.poll() is None and time.monotonic() < self.deadline:
            return
        if proc.poll() is None:  # a hang: the case running now
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self._blame(outcomes, "hang", f"no outcome in {self.timeout:.0f} s")
        else:
            while self._read(outcomes, wait=1.0):
                pass  # the rest of its output
            if proc.returncode != 0 or self.left:
                tail = self.errors.decode(errors="replace").strip().splitlines()[-3:]
                code = proc.returncode
                how = f"signal {-code}" if code < 0 else f"exit status {code}"
                self._blame(outcomes, "crash", f"{how}: {' | '.join(tail)}")
        os.unlink(self.job)
        self._start()

    def _blame(self, outcomes: dict[int, Outcome], kind: str, detail: str) -> None:
        """Pins a crash or hang on the case that was running (or, when the
        process died after its last case, on that case: running it alone
        tells)."""
        if self.current is not None or self.left:
            i = self.current if self.current is not None else self.left[0]
            self.left.remove(i)
        else:
            i, detail = self.done[-1], f"{detail} (at exit, after this case)"
        outcomes[i] = Outcome(self.edits[i], kind, detail)


def _worker(job_path: str) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    # Run as a script, this folder comes first on the path, and its layerc/
    # (the tests of the frontend) would be found as a namespace package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    import layerc

    with open(job_path) as f:
        job = json.load(f)
    pristine = {name: read_parts(m["artifact"]) for name, m in job["made"].items()}
    data = {}
    for name, m in job["made"].items():
        with np.load(m["data"]) as f:
            xs = [f[f"x{i}"] for i in range(sum(k.startswith("x") for k in f.files))]
            ys = [f[f"y{i}"] for i in range(sum(k.startswith("y") for k in f.files))]
        data[name] = (xs, ys)
    folder = tempfile.mkdtemp(prefix="layerc-fuzz-")
    for i, edit_json in job["cases"]:
        edit = Edit.from_json(edit_json)
        path = os.path.join(folder, f"case{i}.lcz")
        write_parts(path, apply(pristine[edit.model], edit))
        print(f"{START}{i}", flush=True)
        xs, want = data[edit.model]
        try:
            model = layerc.load(path)
            got = _as_list(model.predict(xs if len(xs) > 1 else xs[0]))
        except layerc.LayercError as err:
            kind, detail = "refused", f"{type(err).__name__}: {_first(err)}"
        except Exception as err:  # noqa: BLE001  (what the fuzzer looks for)
            frames = traceback.extract_tb(err.__traceback__)[-3:]
            where = " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
            kind, detail = "escaped", f"{type(err).__name__}: {_first(err)} [{where}]"
        else:
            kind, detail = _compare(got, want)
        finally:
            os.unlink(path)
        print(DONE + json.dumps([i, kind, detail]), flush=True)
    os.rmdir(folder)


def _first(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else ""


def _compare(got: list, want: list) -> tuple[str, str]:
    if len(got) != len(want):
        return "different", f"{len(got)} outputs, not {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        if g.shape != w.shape:
            return "different", f"output {i} has shape {g.shape}, not {w.shape}"
        if not np.allclose(g, w, rtol=RTOL, atol=ATOL, equal_nan=True):
            worst = float(np.nanmax(np.abs(g.astype(np.float64) - w)))
            return "different", f"output {i} differs by up to {worst:.3g}"
    return "same", ""


def _fuzz(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="artifact_fuzz.py fuzz")
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=None, help="default: derandomized")
    parser.add_argument("--plan-values", action="store_true",
                        help="also give the memory plan's offsets other ints")
    parser.add_argument("--plan-sweep", action="store_true",
                        help="instead, move every memory plan value in turn (plan_sweep)")
    parser.add_argument("--out", help="write every outcome to this file")
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    import layerc  # noqa: F401  (the package, before this folder's layerc/ can shadow it)

    sys.path.append(str(here))  # example_helpers
    from hypothesis.internal.conjecture import providers

    # As tests/conftest.py: draws that do not depend on layerc's own constants.
    providers._get_local_constants = lambda: providers._local_constants
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="layerc-fuzz-") as folder:
        made = make_artifacts(Path(folder))
        cases = plan_sweep(made) if args.plan_sweep else \
            draw_edits(made, args.cases, args.seed, args.plan_values)
        outcomes = run(cases, made)
    print(f"{len(cases)} cases in {time.monotonic() - started:.0f} s:")
    for key, count in tally(outcomes).items():
        print(f"  {count:6d}  {key}")
    for o in outcomes:
        if o.kind not in OK:
            print(o)
    if args.out:
        Path(args.out).write_text("".join(f"{o}\n" for o in outcomes))


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    _worker(sys.argv[2])
elif __name__ == "__main__" and sys.argv[1:2] == ["fuzz"]:
    _fuzz(sys.argv[2:])
