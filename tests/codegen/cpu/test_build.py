"""The kernel library's build a kernel at a time (codegen/cpu/build.py): a
model's first run builds only its own kernels, says so while it builds, and a
read-only shared cache is read, never written (codegen/cpu/cache.py). The
cache checks run in fresh processes with caches of their own, as a user's
would."""

import io
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from layerc.codegen.cpu import build

# A model whose plan runs one cheap kernel (a ReLU), so an empty cache builds
# it in seconds; `repeat` adds a RepeatVector, which asks for a second kernel.
RUN = """
import json, sys
import numpy as np
import layerc
from layerc import layers as L
from layerc.codegen.cpu import build
from layerc.codegen.cpu.opcodes import OPCODES, STEPS
layers = [L.Input((6,)), L.Activation("relu")]
model = layerc.Sequential(layers + ([L.RepeatVector(2)] if sys.argv[1] == "repeat" else []))
compiled = layerc.compile(model)
x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(2, 6)
y = compiled.predict(x)
built = sorted(OPCODES[c].name for c, step in STEPS.items() if step.overloads)
print(json.dumps({"y": y.tolist(), "steps": built}))
"""


def _run(model, env):
    run = subprocess.run([sys.executable, "-c", RUN, model], capture_output=True,
                         text=True, timeout=600, env={**os.environ, **env})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), run.stderr


def _snapshot(folder):
    return {p.relative_to(folder): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")}


def test_a_first_run_builds_only_its_kernels_and_says_so(tmp_path):
    # one thread: a team's helper loop (one more kernel) is not needed
    env = {"LAYERC_CACHE_DIR": str(tmp_path), "LAYERC_PROGRESS": "1", "LAYERC_NUM_THREADS": "1"}
    out, err = _run("relu", env)
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(2, 6)
    np.testing.assert_array_equal(out["y"], np.maximum(x, 0))
    assert out["steps"] == ["act"]  # not the Dense, convolution or recurrent kernels
    assert "layerc: building 2 CPU kernel(s)" in err
    assert "[1/2] core: act" in err and "[2/2] interpreter: run_model" in err
    assert "layerc: built 2 CPU kernel(s)" in err
    again, err = _run("relu", env)
    assert again == out and err == ""  # loaded from the cache: nothing built, nothing said


def test_a_read_only_shared_cache_is_read_and_never_written(tmp_path):
    shared, user = tmp_path / "shared", tmp_path / "user"
    first, _ = _run("relu", {"LAYERC_CACHE_DIR": str(shared)})
    before = _snapshot(shared)
    readonly = {"LAYERC_CACHE_DIR": str(shared), "LAYERC_CACHE_READONLY": "1",
                "XDG_CACHE_HOME": str(user), "LAYERC_PROGRESS": "1"}
    hit, err = _run("relu", readonly)
    assert hit == first and "building" not in err  # everything came from the shared cache
    assert _snapshot(shared) == before
    miss, err = _run("repeat", readonly)  # a kernel the shared cache lacks
    assert "layerc: building 1 CPU kernel(s)" in err and "reshaping: repeat" in err
    assert _snapshot(shared) == before
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(2, 6)
    np.testing.assert_array_equal(miss["y"], np.repeat(np.maximum(x, 0)[:, None], 2, axis=1))
    own = next((user / "layerc").glob("cpu-*"))
    assert any(p.is_symlink() for p in own.iterdir())  # read through links
    assert any(not p.is_symlink() and p.suffix == ".nbi" for p in own.iterdir())  # built here
    again, err = _run("repeat", readonly)
    assert again == miss and err == ""


class _Terminal(io.StringIO):
    def __init__(self):
        super().__init__()
        self.times = []

    def isatty(self):
        return True

    def write(self, text):
        self.times.append(time.perf_counter())
        return super().write(text)


def test_progress_on_a_terminal_is_never_silent_for_two_seconds(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.delenv("LAYERC_PROGRESS", raising=False)
    stages = [("conv", "conv", 1.0), ("recurrent", "recurrent", 3.0)]
    with build.Progress.for_build(stages) as progress:
        for _ in stages:
            with progress.stage():
                time.sleep(1.6)
    gaps = np.diff([terminal.times[0], *terminal.times])
    assert gaps.max() < 1.5
    text = terminal.getvalue()
    assert "[1/2] conv: conv" in text and "[2/2] recurrent: recurrent" in text
    assert text.count("\r") == len(terminal.times)  # one line, rewritten
    assert text.endswith("\n") and "built 2 CPU kernel(s)" in text


def test_the_estimate_scales_the_costs_by_the_pace_so_far():
    progress = build.Progress([("a", "a", 2.0), ("b", "b", 6.0)], stream=None)
    assert progress.left() == pytest.approx(8.0, abs=0.1)  # nothing done: the costs as they are
    progress.done, progress.done_cost, progress.done_seconds = 1, 40.0, 20.0  # twice as fast
    progress.stage_start = time.perf_counter()
    pace = (20.0 + build.PRIOR) / (40.0 + build.PRIOR)
    assert progress.left() == pytest.approx(6.0 * pace, abs=0.1)
    progress.stage_start = time.perf_counter() - 30.0  # the running stage, of cost 6, overruns
    pace = (20.0 + 30.0 + build.PRIOR) / (40.0 + 6.0 + build.PRIOR)
    assert progress.left() == pytest.approx(0.0, abs=0.1)  # nothing after it: 0, not negative
    progress.stages.append(("c", "c", 10.0))
    assert progress.left() == pytest.approx(10.0 * pace, abs=0.1)  # the rest at the slower pace


def test_progress_is_quiet_off_a_terminal_unless_asked(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.delenv("LAYERC_PROGRESS", raising=False)
    with build.Progress.for_build([("core", "dense", 1.0)]) as progress:
        with progress.stage():
            pass
    assert stream.getvalue() == ""
    monkeypatch.setenv("LAYERC_PROGRESS", "1")
    with build.Progress.for_build([("core", "dense", 1.0)]) as progress:
        with progress.stage():
            pass
    lines = stream.getvalue().splitlines()
    assert "[1/1] core: dense" in lines[1] and "built 1 CPU kernel(s)" in lines[-1]
    monkeypatch.setenv("LAYERC_PROGRESS", "0")
    before = stream.getvalue()
    with build.Progress.for_build([("core", "dense", 1.0)], True) as progress:
        with progress.stage():
            pass
    assert stream.getvalue() == before


def test_a_plan_naming_an_opcode_without_a_kernel_is_refused():
    from layerc.ir import TargetError

    with pytest.raises(TargetError, match="opcode"):
        build.ready([max(build.STEPS) + 1])


def test_layerc_warmup_builds_what_is_missing_then_nothing():
    layerc = [sys.executable, "-m", "layerc", "warmup", "--quiet"]
    first = subprocess.run(layerc, capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stderr
    assert "the kernel library is cached in" in first.stdout
    second = subprocess.run(layerc, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert "every CPU kernel was already built" in second.stdout
