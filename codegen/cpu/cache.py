"""Where Numba caches the CPU kernel library, and when that cache is stale.

Numba keys a cached function on its own file's content only, so a cached
`run_plan` would keep running old copies of kernels edited in another file
(NUMBA_NOTES.md), and the kernels read constants (opcode columns, activation
codes, window fields) computed in other modules. This locator keys every
function of the kernel library on a hash of all the sources those can come
from (the `codegen` and `ir` packages), and keeps the cache in
`$LAYERC_CACHE_DIR/cpu-<hash>` (default `~/.cache/layerc`), so checkouts of
different versions never overwrite each other's entries. Modules generated
from the library (the interpreter's dispatch) live in that folder too. Import
this module before any kernel is decorated.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from numba.core.caching import CacheImpl, _CacheLocator

LIBRARY = Path(__file__).resolve().parent
ROOT = LIBRARY.parents[1]  # holds codegen/ and ir/ (in the source tree and when installed)


def cache_root() -> Path:
    return Path(os.environ.get("LAYERC_CACHE_DIR") or Path.home() / ".cache" / "layerc")


def _library_hash() -> str:
    digest = hashlib.sha256()
    for package in ("codegen", "ir"):
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


SOURCE_HASH = _library_hash()


def library_path() -> Path:
    return cache_root() / f"cpu-{SOURCE_HASH}"


class LibraryCacheLocator(_CacheLocator):
    def __init__(self, py_func: Any, py_file: str) -> None:
        self._lineno = py_func.__code__.co_firstlineno
        self._path = str(library_path())

    def get_cache_path(self) -> str:
        return self._path

    def get_source_stamp(self) -> str:
        return SOURCE_HASH

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> LibraryCacheLocator | None:
        folder = Path(py_file).resolve().parent
        if folder != library_path().resolve() and LIBRARY not in (folder, *folder.parents):
            return None
        locator = cls(py_func, py_file)
        try:
            locator.ensure_cache_path()
        except OSError:
            return None  # unwritable: fall back to Numba's own locators
        return locator


def generated_module(name: str, source: str) -> ModuleType:
    """Imports `source`, generated from the library, as module `name` from a
    file in the library's cache folder (so Numba caches what it compiles; a
    module that is not a real file in sys.modules cannot be cached). The file
    is written atomically, and only when it is missing or differs; an
    unwritable cache folder gets a private temporary one."""
    try:
        folder = library_path()
        folder.mkdir(parents=True, exist_ok=True)
        path = _write(folder / f"{name.rsplit('.', 1)[-1]}.py", source)
    except OSError:
        path = _write(Path(tempfile.mkdtemp(prefix="layerc-")) / "generated.py", source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _write(path: Path, source: str) -> Path:
    if path.is_file() and path.read_text() == source:
        return path
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(source)
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would keep other users of a shared cache out
    os.replace(tmp, path)
    return path


if LibraryCacheLocator not in CacheImpl._locator_classes:
    CacheImpl._locator_classes.insert(0, LibraryCacheLocator)


def _nrt_only(context: Any) -> None:
    from numba.core.runtime import rtsys

    rtsys.initialize(context)


def _preload_blas() -> None:
    """Numba's BLAS calls find their functions in `scipy.linalg.cython_blas`,
    importing it on first use, and with it the `scipy.linalg` package, whose
    initialization costs 0.1-0.2 s (array-API shims that touch every NumPy
    submodule). The extension module itself loads in 2 ms: this loads just it
    under its own name, so the import finds it in sys.modules. A later
    `import scipy.linalg` still runs the package's own initialization. Any
    problem leaves things to the ordinary import."""
    name = "scipy.linalg.cython_blas"
    if name in sys.modules:
        return
    try:
        import scipy

        folder = Path(scipy.__file__).parent / "linalg"
        path = next(folder / f"cython_blas{suffix}"
                    for suffix in importlib.machinery.EXTENSION_SUFFIXES
                    if (folder / f"cython_blas{suffix}").is_file())
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001  (an optimization only)
        return
    sys.modules.setdefault(name, module)


def load_cached(dispatcher: Any, args: tuple) -> None:
    """Loads the cached machine code of `dispatcher` for `args`, if the cache
    has it, without Numba's full registry set-up; on a miss it does nothing
    and the first call compiles the normal way.

    Numba's first compile or cache load in a process imports and installs all
    of its typing and lowering registries (NumPy, linalg and with it
    scipy.linalg, random, typed containers...): about 0.15-0.2 s of a cold
    start. Cached machine code needs none of that, only the NRT (the helper C
    functions and the threading layer register themselves on import). So this
    repeats what `Dispatcher.compile` does on a cache hit, with the context's
    `refresh` cut down to initializing the NRT, under Numba's global compiler
    lock. Numba is pinned (0.68.1); on it this gives the same outputs, bit for
    bit, on every example, and compiling other functions afterwards works.
    """
    from numba.core import cpu
    from numba.core.compiler_lock import global_compiler_lock

    _preload_blas()
    signature = tuple(dispatcher.typeof_pyval(a) for a in args)
    with global_compiler_lock:
        if signature in dispatcher.overloads:
            return
        saved = cpu.CPUContext.refresh
        cpu.CPUContext.refresh = _nrt_only  # type: ignore[method-assign]
        try:
            result = dispatcher._cache.load_overload(signature, dispatcher.targetctx)
        finally:
            cpu.CPUContext.refresh = saved  # type: ignore[method-assign]
        if result is None:
            return
        dispatcher._cache_hits[signature] += 1
        dispatcher.targetctx.insert_user_function(result.entry_point, result.fndesc,
                                                  [result.library])
        dispatcher.add_overload(result)
