"""Loading the cached kernel library without Numba's full registry set-up
(codegen/cpu/cache.py: load_signature): same numbers, less start-up, and a cache
miss still compiles. Each check runs in fresh processes, as a user's would."""

import subprocess
import sys
import textwrap

import numpy as np

import layerc
from example_helpers import MODEL_EXAMPLES as EXAMPLES


RUN = """
import sys
import numpy as np
import layerc
import layerc.codegen.cpu.build as build
if sys.argv[1] == "ordinary":
    build.load_signature = lambda dispatcher, signature: False
from layerc.runtime.artifact import random_inputs
outs = []
for path in sys.argv[3:]:
    model = layerc.load(path)
    for batch in (1, 64):
        model.reset_states()
        xs = random_inputs(model, batch * (model.state_batch or 1), seed=batch)
        y = model.predict(xs)
        outs += y if isinstance(y, list) else [y]
light = {name: name in sys.modules for name in ("scipy.linalg", "numba.np.arraymath")}
np.savez(sys.argv[2], *outs)
print(light)
"""


def _python(code, *args, cwd=None):
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                         capture_output=True, text=True, timeout=600, cwd=cwd)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_light_load_gives_the_same_numbers_without_numbas_registries(tmp_path):
    artifacts = []
    for path in EXAMPLES:
        namespace = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        artifact = tmp_path / f"{path.stem}.lcz"
        layerc.compile(namespace["build_model"]()).save(artifact)
        artifacts.append(artifact)
    light = _python(RUN, "light", tmp_path / "light.npz", *artifacts)
    ordinary = _python(RUN, "ordinary", tmp_path / "ordinary.npz", *artifacts)
    # the point: neither Numba's NumPy registries nor scipy.linalg's package init
    assert light.strip() == "{'scipy.linalg': False, 'numba.np.arraymath': False}"
    assert ordinary.strip() == "{'scipy.linalg': True, 'numba.np.arraymath': True}"
    with np.load(tmp_path / "light.npz") as a, np.load(tmp_path / "ordinary.npz") as b:
        assert len(a.files) == 2 * len(EXAMPLES)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])


def test_a_cache_miss_compiles_and_later_compiles_still_work(tmp_path):
    """A function of our own, cached in a fresh folder: the first process misses
    (load_signature leaves it to the ordinary compile), the second loads it from
    the cache without the registries, then compiles new code that needs them."""
    (tmp_path / "kern.py").write_text(textwrap.dedent("""
        import numpy as np
        from numba import njit

        @njit(cache=True)
        def gemm(a, b):
            return np.dot(a, b) + 1.0
    """))
    code = """
        import sys
        import numpy as np
        from layerc.codegen.cpu.cache import load_signature
        import kern
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        b = np.ones((3, 2), np.float32)
        load_signature(kern.gemm, (kern.gemm.typeof_pyval(a), kern.gemm.typeof_pyval(b)))
        loaded = len(kern.gemm.overloads)
        print(loaded, "numba.np.arraymath" in sys.modules, kern.gemm(a, b).tolist())
        from numba import njit

        @njit
        def fresh(x):
            return np.linalg.norm(x) + np.sum(np.dot(x, x.T))
        print(fresh(a))
    """
    first = _python(code, cwd=tmp_path).splitlines()
    second = _python(code, cwd=tmp_path).splitlines()
    want = (np.arange(6, dtype=np.float32).reshape(2, 3) @ np.ones((3, 2), np.float32) + 1)
    assert first[0] == f"0 False {want.tolist()}"  # a miss: nothing loaded, then compiled
    assert second[0] == f"1 False {want.tolist()}"  # a hit: loaded without the registries
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    expected = np.linalg.norm(x) + np.sum(x @ x.T)
    assert abs(float(second[1]) - expected) < 1e-3 and first[1] == second[1]
