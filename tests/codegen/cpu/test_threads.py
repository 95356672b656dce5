"""layerc owns the cores while it runs (codegen/cpu/threads.py): the thread
count comes from compile(threads=N), LAYERC_NUM_THREADS or the usable cores;
a run leaves OpenBLAS's thread count as it found it; bad settings are
refused in words. The team itself: test_team.py."""

import subprocess
import sys

import numpy as np
import pytest

import layerc
from layerc import layers as L
from layerc.codegen.cpu import threads


def _model():
    return layerc.Sequential([L.Input((6, 6, 2)), L.Conv2D(9, 3, padding="same",
                                                            activation="relu"),
                              L.Flatten(), L.Dense(7, activation="softmax")])


def test_the_default_is_the_usable_cores_or_the_environment(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    assert threads.resolve(None) == min(threads.usable_cores(), threads.machine_cores())
    monkeypatch.setenv(threads.ENV, "1")
    assert threads.resolve(None) == 1
    assert layerc.compile(_model()).threads == 1
    assert threads.resolve(threads.machine_cores()) == threads.machine_cores()


@pytest.mark.parametrize("value, message", [("0", "positive"), ("two", "positive integer"),
                                            ("100000", "CPU")])
def test_a_bad_environment_value_is_refused_by_name(monkeypatch, value, message):
    monkeypatch.setenv(threads.ENV, value)
    with pytest.raises(layerc.ConfigError, match=f"{threads.ENV}.*{message}"):
        layerc.compile(_model())


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "2"])
def test_a_bad_threads_argument_is_refused(value):
    with pytest.raises(layerc.ConfigError, match="threads"):
        layerc.compile(_model(), threads=value)


def test_threads_on_the_cuda_target_is_refused_in_words():
    with pytest.raises(layerc.ConfigError, match="cpu target"):
        layerc.compile(_model(), target="cuda", threads=1)


def test_one_and_all_threads_give_the_same_numbers():
    x = np.random.default_rng(0).standard_normal((13, 6, 6, 2)).astype(np.float32)
    model = _model()
    one = layerc.compile(model, threads=1)
    many = layerc.compile(model, threads=threads.machine_cores())
    np.testing.assert_allclose(one.predict(x), many.predict(x), rtol=1e-6, atol=1e-7)


def test_a_run_holds_openblas_at_one_thread_and_restores_it():
    """In a fresh process (the BLAS count is process-wide): SciPy's OpenBLAS
    set to N threads; inside a run it is at 1; after a predict it is N again."""
    code = """
import ctypes, glob, os, scipy
import numpy as np
from numba import njit, types
import layerc
from layerc import layers as L
from layerc.codegen.cpu import threads
libs = os.path.join(os.path.dirname(scipy.__file__), os.pardir, "scipy.libs")
lib = ctypes.CDLL(sorted(glob.glob(os.path.join(libs, "libscipy_openblas*")))[0])
n = min(2, os.cpu_count())
lib.scipy_openblas_set_num_threads(n)
get = types.ExternalFunction("scipy_openblas_get_num_threads", types.intc())
@njit
def inside():
    saved = threads.enter()
    seen = get()
    threads.leave(saved)
    return seen
model = layerc.compile(layerc.Sequential([L.Input((4,)), L.Dense(3)]), threads=1)
model.predict(np.ones((2, 4), np.float32))
print(threads.BLAS_CONTROLLED, inside(), lib.scipy_openblas_get_num_threads() == n)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "1", "True"]
