"""The `layerc` command line, through a subprocess as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    assert heads == ["# after drop-dropout (2 rewrites)", "# after fold-batchnorm (0 rewrites)",
                     "# after fold-padding (0 rewrites)", "# after fold-reshape (0 rewrites)",
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


# ----- compile / inspect / run / bench -----
TEXT_CNN = str(ROOT / "examples" / "text_cnn.py")
GRU = str(ROOT / "examples" / "streaming_gru.py")


@pytest.fixture(scope="module")
def mlp_artifact(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "mlp.lcz"
    run = layerc("compile", MLP, "-o", str(path))
    assert run.returncode == 0, run.stderr
    assert str(path) in run.stdout and "for cpu" in run.stdout
    return path


def test_compile_writes_an_artifact_that_predicts_like_the_model(mlp_artifact, tmp_path):
    import layerc as lc
    from layerc.model_file import load_model_file

    x = np.random.default_rng(0).normal(size=(4, 784)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run = layerc("run", str(mlp_artifact), "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy"), "--batch-size", "3")
    assert run.returncode == 0, run.stderr
    want = lc.ir.interpret(load_model_file(MLP).to_graph(), [x])[0]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), want, rtol=1e-5, atol=1e-6)


def test_run_prints_outputs_without_output_file(mlp_artifact, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 784), np.float32))
    run = layerc("run", str(mlp_artifact), "--input", str(tmp_path / "x.npy"))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("dense_2: shape (2, 10)")


def test_compile_from_an_artifact_and_a_named_function(tmp_path, mlp_artifact):
    run = layerc("compile", str(mlp_artifact), "-o", str(tmp_path / "copy.lcz"))
    assert run.returncode == 0, run.stderr
    run = layerc("compile", f"{GRU}:build_model", "-o", str(tmp_path / "gru.lcz"))
    assert run.returncode == 0, run.stderr
    assert "streaming_gru for cpu" in run.stdout


def test_inspect_an_artifact(mlp_artifact):
    run = layerc("inspect", str(mlp_artifact))
    assert run.returncode == 0, run.stderr
    out = run.stdout
    # (784 + 1) * 512 + (512 + 1) * 512 + (512 + 1) * 10 parameters
    assert out.startswith("model mlp: target cpu, 669,706 parameters")
    assert "%dense_2" in out and "dense rows=" in out and "act=softmax" in out
    assert "drop-dropout         2" in out and "fuse-activation      3" in out
    assert "      removed %dropout, %dropout_1\n" in out  # what each pass changed
    assert "      %dense_2: activation='linear' -> 'softmax'" in out
    assert "arena:" in out and "naive" in out
    assert "self-test: passed" in out


def test_inspect_a_model_file_compares_with_the_reference():
    run = layerc("inspect", TEXT_CNN)
    assert run.returncode == 0, run.stderr
    assert "gather" in run.stdout and "conv" in run.stdout
    diff = float(run.stdout.rsplit("=", 1)[1].split()[0])
    assert diff <= 1e-5


def test_bench_reports_latency_and_throughput(mlp_artifact):
    run = layerc("bench", str(mlp_artifact), "--batch-size", "4", "--seconds", "0.3")
    assert run.returncode == 0, run.stderr
    assert "batch 4" in run.stdout and "samples/s" in run.stdout and "median" in run.stdout
    assert "GFLOP/s" not in run.stdout  # no profile unless asked


def test_bench_profile_prints_a_row_per_node_after_the_latency(mlp_artifact):
    run = layerc("bench", str(mlp_artifact), "--batch-size", "3", "--seconds", "0.2",
                 "--profile")
    assert run.returncode == 0, run.stderr
    latency, _, table = run.stdout.partition("\nprofile of mlp on cpu, batch 3: median of ")
    assert "batch 3" in latency and "samples/s" in latency
    lines = table.splitlines()
    assert lines[1].startswith("peak: ") and "sgemm" in lines[1]
    nodes = [line.split()[0] for line in lines if line.startswith("%")]
    assert nodes == ["%dense", "%dense_1", "%dense_2"]
    assert any(line.startswith("total") for line in lines)


def test_dump_dir_writes_one_numbered_file_per_pass(tmp_path):
    run = layerc("dump", MLP, "--dump-dir", str(tmp_path / "d"))
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert names == ["00-traced.txt", "01-drop-dropout.txt", "02-fold-batchnorm.txt",
                     "03-fold-padding.txt", "04-fold-reshape.txt", "05-fuse-activation.txt",
                     "06-specialize-padding.txt", "07-dce.txt", "08-plan-memory.txt"]
    assert "dropout" in (tmp_path / "d" / "00-traced.txt").read_text()
    assert "dropout" not in (tmp_path / "d" / "01-drop-dropout.txt").read_text()


def test_dump_an_artifact_shows_its_optimized_graph(mlp_artifact):
    run = layerc("dump", str(mlp_artifact))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("graph mlp(") and "activation='relu'" in run.stdout


@pytest.mark.parametrize("make_args, message", [
    (lambda p, a: ("run", str(a), "--input", str(p / "none.npy")), "none.npy: no such file"),
    (lambda p, a: ("run", str(a), "--input", str(p / "bad.npy")), "bad.npy: not a .npy array"),
    (lambda p, a: ("run", str(a), "--input", str(p / "x3.npy")),
     "expected shape (None, 784), got (2, 3)"),
    (lambda p, a: ("run", str(a), "--input", str(p / "x3.npy"), "--input", str(p / "x3.npy")),
     "takes 1 input(s)"),
    (lambda p, a: ("inspect", str(p / "bad.npy")), "not a layerc artifact"),
    (lambda p, a: ("compile", str(p / "none.lcz"), "-o", str(p / "o.lcz")), "no such file"),
    (lambda p, a: ("compile", MLP, "-o", str(p / "o.lcz"), "--target", "tpu"), "invalid choice"),
    (lambda p, a: ("dump", str(a), "--after", "dce"), "holds only the optimized graph"),
    (lambda p, a: ("bench", str(a), "--batch-size", "0"), "must be a positive integer"),
])
def test_command_errors_are_one_line(tmp_path, mlp_artifact, make_args, message):
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    np.save(tmp_path / "x3.npy", np.zeros((2, 3), np.float32))
    run = layerc(*make_args(tmp_path, mlp_artifact))
    assert run.returncode != 0
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "o.lcz").exists()


def test_compile_to_an_unwritable_place_keeps_nothing(tmp_path):
    run = layerc("compile", MLP, "-o", str(tmp_path / "no" / "such" / "dir" / "m.lcz"))
    assert run.returncode == 1
    assert run.stderr.startswith("layerc: error: cannot write artifact")
    assert "m.lcz: No such file or directory" in run.stderr and "Traceback" not in run.stderr


def test_bench_of_a_stateful_model_runs_its_batch_and_refuses_others(tmp_path):
    artifact = tmp_path / "gru.lcz"
    assert layerc("compile", f"{GRU}:build_model", "-o", str(artifact)).returncode == 0
    run = layerc("bench", str(artifact), "--seconds", "0.2")
    assert run.returncode == 0, run.stderr
    assert "batch 2:" in run.stdout  # its fixed batch by default
    run = layerc("bench", str(artifact), "--seconds", "0.2", "--batch-size", "4")
    assert run.returncode == 0, run.stderr
    assert "batch 4:" in run.stdout  # two chunks of 2
    run = layerc("bench", str(artifact), "--seconds", "0.2", "--batch-size", "5")
    assert run.returncode == 1 and "batches of exactly 2" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_tensor_output_twice_is_written_twice(tmp_path):
    src = tmp_path / "dup.py"
    src.write_text("import layerc\nfrom layerc.layers import Dense\n"
                   "x = layerc.Input((3,), name='x')\nd = Dense(2, name='d')(x)\n"
                   "model = layerc.Model(x, [d, d])\n")
    np.save(tmp_path / "x.npy", np.ones((2, 3), np.float32))
    run = layerc("run", str(src), "--input", str(tmp_path / "x.npy"), "--output",
                 str(tmp_path / "y.NPZ"))
    assert run.returncode == 0, run.stderr
    with np.load(tmp_path / "y.NPZ") as y:
        assert sorted(y.files) == ["d", "d_1"]
        np.testing.assert_array_equal(y["d"], y["d_1"])


@pytest.mark.parametrize("source, spec, message", [
    ("model = (\n", "syn.py", "syn.py: running it failed: SyntaxError"),
    ("raise RuntimeError('boom')\n", "syn.py", "running it failed: RuntimeError: boom"),
    ("def f(n):\n    pass\n", "syn.py:f", "calling f() failed: TypeError"),
])
def test_a_broken_model_file_is_one_line(tmp_path, source, spec, message):
    (tmp_path / "syn.py").write_text(source)
    run = layerc("dump", str(tmp_path / spec))
    assert run.returncode == 1
    assert message in run.stderr and "Traceback" not in run.stderr


def test_garbage_keras_file_and_debug_after_the_command(tmp_path):
    (tmp_path / "g.KERAS").write_text("garbage")
    run = layerc("dump", str(tmp_path / "g.KERAS"))
    assert run.returncode == 1
    assert "not a Keras 3 .keras file (not a zip archive)" in run.stderr
    run = layerc("dump", str(tmp_path / "g.KERAS"), "--debug")
    assert "Traceback" in run.stderr


@pytest.mark.parametrize("args, message", [
    (("bench", MLP, "--seconds", "-1"), "--seconds must be a positive number"),
    (("bench", MLP, "--seconds", "nan"), "--seconds must be a positive number"),
    (("dump", MLP, "--print-after-all", "--format", "json"), "leave out --format"),
])
def test_options_that_would_do_nothing_are_refused(args, message):
    run = layerc(*args)
    assert run.returncode == 1 and message in run.stderr


def test_compile_signs_and_the_commands_check_signatures(tmp_path):
    """--sign-key-file signs; run/inspect check with --key-file or
    LAYERC_SIGNING_KEY_FILE; LAYERC_REQUIRE_SIGNATURE=1 needs a key."""
    import os

    def cli(*args, **env):
        full = {k: v for k, v in os.environ.items() if not k.startswith(
            ("LAYERC_SIGNING_KEY_FILE", "LAYERC_REQUIRE_SIGNATURE"))}
        return subprocess.run([sys.executable, "-m", "layerc", *map(str, args)],
                              capture_output=True, text=True, cwd=ROOT, timeout=300,
                              env={**full, **{k: str(v) for k, v in env.items()}})

    (tmp_path / "model.py").write_text(
        "import layerc\nfrom layerc.layers import Dense\n"
        "model = layerc.Sequential([Dense(3, input_shape=(4,))])\n")
    (tmp_path / "key").write_bytes(b"0123456789abcdef0123456789abcdef")
    (tmp_path / "other").write_bytes(b"fedcba9876543210fedcba9876543210")
    np.save(tmp_path / "x.npy", np.ones((2, 4), np.float32))
    artifact = tmp_path / "m.lcz"
    made = cli("compile", tmp_path / "model.py", "-o", artifact, "--sign-key-file",
               tmp_path / "key")
    assert made.returncode == 0 and made.stdout.strip().endswith("signed"), made.stderr
    ran = cli("run", artifact, "--input", tmp_path / "x.npy", "--key-file", tmp_path / "key")
    assert ran.returncode == 0, ran.stderr
    wrong = cli("run", artifact, "--input", tmp_path / "x.npy", "--key-file",
                tmp_path / "other")
    assert wrong.returncode == 1 and "signature does not match" in wrong.stderr
    required = cli("inspect", artifact, LAYERC_REQUIRE_SIGNATURE=1)
    assert required.returncode == 1 and "LAYERC_REQUIRE_SIGNATURE=1" in required.stderr
    shown = cli("inspect", artifact, LAYERC_REQUIRE_SIGNATURE=1,
                LAYERC_SIGNING_KEY_FILE=tmp_path / "key")
    assert shown.returncode == 0 and "signature: checked with the key" in shown.stdout
    (tmp_path / "tiny").write_bytes(b"abc")
    tiny = cli("compile", tmp_path / "model.py", "-o", tmp_path / "t.lcz", "--sign-key-file",
               tmp_path / "tiny")
    assert tiny.returncode == 1 and "at least 16 bytes" in tiny.stderr
    assert not (tmp_path / "t.lcz").exists()
