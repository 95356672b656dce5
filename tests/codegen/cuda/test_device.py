"""The CUDA backend around its kernels: PTX compilation of every kernel (no
GPU needed, only NVVM), the clear error when CUDA cannot run, numba.cuda kept
out of the CPU path, and the program's text, weights and states."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import layerc
from layerc.layers import LSTM, Dense, Input
from layerc.models import Sequential


def _python(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env=env)


def test_every_kernel_compiles_to_ptx():
    """NVVM types and compiles the kernels as a GPU would; the simulator checks
    no types at all (this found max()/min() calls that only fail on a device)."""
    run = _python("""
        from layerc.codegen.cuda import ptx
        texts = ptx.compile_all(cc=(8, 0))
        for name, text in texts.items():
            assert ".entry" in text and ".f64" not in text, name
        print(len(texts), "kernels")
    """)
    missing = run.stderr.strip().splitlines()[-1] if run.returncode and run.stderr.strip() \
        else ""
    if any(lib in missing.lower() for lib in ("nvvm", "nvrtc")):
        # numba-cuda also wants NVRTC; pip install 'layerc[cuda]' brings both
        pytest.skip(f"the CUDA toolkit's NVVM/NVRTC is not installed here: {missing}")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[0] == "28"


NO_GPU_PROGRAM = """
    import layerc
    from layerc.layers import Dense, Input
    model = layerc.Sequential([Input((3,)), Dense(2)])
    try:
        layerc.compile(model, target="cuda")
        print("compiled for cuda")
    except layerc.ir.TargetError as err:
        print("TargetError:", err)
    import numpy as np
    print(layerc.compile(model).predict(np.ones((1, 3), np.float32)).shape)
"""
HINTS = ("layerc[cuda]", "GPU", "NUMBA_ENABLE_CUDASIM=1", "target='cpu'")


@pytest.mark.parametrize("driver", ["missing", "as installed"])
def test_missing_gpu_gives_a_target_error_that_says_how_to_fix_it(driver):
    """No driver and no simulator: a TargetError naming the extra, the driver
    and the simulator, and the CPU still works. 'missing' points Numba at a
    driver that is not there (so it holds on a GPU machine too); 'as installed'
    expects the error on this machine unless LAYERC_CUDA_DEVICE=1 says it has a GPU."""
    env = {"NUMBA_CUDA_DRIVER": "/nonexistent/libcuda.so"} if driver == "missing" else {}
    run = _python(NO_GPU_PROGRAM, **env)
    assert run.returncode == 0, run.stderr
    assert "(1, 2)" in run.stdout
    if driver != "missing" and os.environ.get("LAYERC_CUDA_DEVICE") == "1":
        assert "compiled for cuda" in run.stdout
        return
    assert "TargetError: target 'cuda'" in run.stdout, run.stdout
    for hint in HINTS:
        assert hint in run.stdout


def test_layerc_and_the_cpu_path_never_import_numba_cuda():
    run = _python("""
        import sys
        import numpy as np
        import layerc
        from layerc.layers import Dense, Input
        model = layerc.Sequential([Input((3,)), Dense(2)])
        layerc.compile(model).predict(np.ones((1, 3), np.float32))
        import layerc.codegen.cuda
        print("numba.cuda" in sys.modules)
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_program_text_is_deterministic_and_lists_every_launch():
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    a, b = (layerc.compile(model, target="cuda") for _ in range(2))
    assert a.program.text == b.program.text and a.program.key == b.program.key
    kernels = [line.split()[0] for line in a.program.text.splitlines()
               if not line.startswith(";")]
    assert kernels == ["dense", "softmax"]
    assert a.target == "cuda" and a.program.target == "cuda"


def test_weights_and_states_stay_on_the_device():
    from layerc.codegen.cuda.program import DeviceState

    model = Sequential([LSTM(2, stateful=True, name="rnn", batch_input_shape=(1, 2, 3))])
    compiled = layerc.compile(model, target="cuda")
    assert not isinstance(compiled.program.weights, np.ndarray)  # a device array
    assert isinstance(compiled._state, DeviceState)
    compiled.predict(np.ones((1, 2, 3), np.float32))
    h, c = compiled.layer_states("rnn")
    assert h.shape == c.shape == (1, 2) and np.abs(h).max() > 0
