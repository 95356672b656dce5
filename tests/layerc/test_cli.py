"""The `layerc` command line, through a subprocess as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MLP = str(ROOT / "examples" / "mlp.py")


def layerc(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "layerc", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_dump_text_is_the_optimized_graph():
    run = layerc("dump", MLP)
    assert run.returncode == 0, run.stderr
    assert "activation='relu'" in run.stdout and "dropout" not in run.stdout
    assert "# arena:" in run.stdout


def test_dump_after_a_pass_and_print_after_all():
    run = layerc("dump", MLP, "--after", "drop-dropout")
    assert run.returncode == 0, run.stderr
    assert "dropout" not in run.stdout and "%dense.activation = activation" in run.stdout
    run = layerc("dump", MLP, "--print-after-all")
    heads = [line for line in run.stdout.splitlines() if line.startswith("# after")]
    assert heads == ["# after drop-dropout (2 rewrites)", "# after fold-reshape (0 rewrites)",
                     "# after fuse-activation (3 rewrites)",
                     "# after specialize-padding (0 rewrites)", "# after dce (0 rewrites)",
                     "# after plan-memory (1 rewrites)"]


@pytest.mark.parametrize("fmt, check", [
    ("json", lambda out: json.loads(out)["name"] == "mlp"),
    ("dot", lambda out: out.startswith('digraph "mlp"')),
    ("plan", lambda out: "dense" in out and "act=softmax" in out),
])
def test_dump_formats(fmt, check):
    run = layerc("dump", MLP, "--format", fmt)
    assert run.returncode == 0, run.stderr
    assert check(run.stdout)


def test_named_model_function(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import layerc\nfrom layerc.layers import Dense\n"
                   "def make():\n    return layerc.Sequential([Dense(2, input_shape=(3,))])\n")
    run = layerc("dump", f"{src}:make", "--no-passes")
    assert run.returncode == 0, run.stderr
    assert "%dense" in run.stdout


@pytest.mark.parametrize("args, message", [
    (("dump", "missing.py"), "missing.py: no such file"),
    (("dump", MLP + ":nothing"), "defines no 'nothing'"),
    (("dump", MLP, "--after", "nope"), "unknown pass 'nope'"),
])
def test_errors_are_one_line_without_traceback(args, message):
    run = layerc(*args)
    assert run.returncode != 0
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_model_errors_show_the_layer_and_debug_shows_the_traceback(tmp_path):
    src = tmp_path / "bad.py"
    src.write_text("import layerc\nfrom layerc.layers import Reshape\n"
                   "model = layerc.Sequential([Reshape((5, 2), input_shape=(12,))])\n")
    run = layerc("dump", str(src))
    assert run.returncode == 1
    assert run.stderr.startswith("layerc: error: reshape") and "bad.py:3" in run.stderr
    assert "cannot reshape 12 values" in run.stderr
    assert "Traceback" in layerc("--debug", "dump", str(src)).stderr
