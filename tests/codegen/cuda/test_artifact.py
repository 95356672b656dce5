"""Artifacts of CUDA-compiled models (under the simulator here): save, load
for the same target or for the CPU, and the CLI's --target cuda error."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import layerc
from layerc.layers import GRU, Conv1D, Dense

ROOT = Path(__file__).resolve().parents[3]


def _tiny_model():
    layerc.utils.set_random_seed(0)
    return layerc.Sequential([Conv1D(3, 2, activation="relu", input_shape=(4, 2)),
                              GRU(3, return_sequences=False), Dense(2)])


def test_cuda_artifact_round_trip_and_cpu_reload(tmp_path):
    compiled = layerc.compile(_tiny_model(), target="cuda")
    x = np.random.default_rng(1).normal(size=(2, 4, 2)).astype(np.float32)
    want = compiled.predict(x)
    compiled.save(tmp_path / "m.lcz")
    loaded = layerc.load(tmp_path / "m.lcz")  # re-runs the self-test on the CUDA target
    assert loaded.target == "cuda"
    np.testing.assert_array_equal(loaded.predict(x), want)
    on_cpu = layerc.load(tmp_path / "m.lcz", target="cpu")  # self-test within tolerance
    assert on_cpu.target == "cpu"
    np.testing.assert_allclose(on_cpu.predict(x), want, rtol=1e-5, atol=1e-6)


def test_cli_target_cuda_without_a_gpu_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["NUMBA_CUDA_DRIVER"] = "/nonexistent/libcuda.so"  # no driver, even on a GPU machine
    run = subprocess.run([sys.executable, "-m", "layerc", "compile",
                          str(ROOT / "examples" / "mlp.py"), "-o", str(tmp_path / "m.lcz"),
                          "--target", "cuda"], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 1
    assert run.stderr.startswith("layerc: error: target 'cuda'")
    assert "NUMBA_ENABLE_CUDASIM=1" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "m.lcz").exists()
