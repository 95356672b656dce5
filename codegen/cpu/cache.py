"""Where Numba caches the CPU kernel library, and when that cache is stale.

Numba keys a cached function on its own file's content only, so a cached
step would keep running old copies of kernels edited in another file
(NUMBA_NOTES.md), and the kernels read constants (opcode columns, activation
codes, window fields) computed in other modules. This locator keys every
function of the kernel library on a hash of all the sources those can come
from (the `codegen` and `ir` packages), and keeps the cache in
`$LAYERC_CACHE_DIR/cpu-<hash>` (default `~/.cache/layerc`), so checkouts of
different versions never overwrite each other's entries. Modules generated
from the library (the GEMM micro-kernels) live in that folder too. Import
this module before any kernel is decorated.

A shared cache (baked into a container image by `layerc warmup`, or mounted
from elsewhere) may be read-only: when `$LAYERC_CACHE_DIR` cannot be written,
or `LAYERC_CACHE_READONLY=1` says it must not be, layerc never writes there.
Its library folder is then linked, file by file, into a writable per-user
cache (`$XDG_CACHE_HOME/layerc`, else `~/.cache/layerc`, else a folder in the
temporary directory), which Numba reads through the links and where a miss
is built: Numba replaces a file by renaming a new one over it, so a link is
replaced, never written through.
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
    """The cache folder the user chose: $LAYERC_CACHE_DIR, else the per-user one."""
    configured = os.environ.get("LAYERC_CACHE_DIR")
    return Path(configured).expanduser() if configured else _user_cache()


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "layerc"


def _library_hash() -> str:
    digest = hashlib.sha256()
    for package in ("codegen", "ir"):
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


SOURCE_HASH = _library_hash()


def _writable(folder: Path) -> bool:
    """Whether this process can create files in `folder` (made if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _locate() -> tuple[Path, Path | None]:
    """The library folder builds go to, and the read-only one it reads
    through (None when the chosen cache is writable)."""
    shared = cache_root() / f"cpu-{SOURCE_HASH}"
    if os.environ.get("LAYERC_CACHE_READONLY", "") != "1" and _writable(shared):
        return shared, None
    for root in (_user_cache(), Path(tempfile.gettempdir()) / f"layerc-{os.getuid()}"):
        own = root / f"cpu-{SOURCE_HASH}"
        if own.absolute() != shared.absolute() and _writable(own):
            return own, shared
    return Path(tempfile.mkdtemp(prefix="layerc-")), shared


def _link(shared: Path, own: Path) -> None:
    """Links each file of the shared library folder that `own` lacks."""
    try:
        present = set(os.listdir(own))
        names = [n for n in os.listdir(shared) if n not in present and not n.startswith(".")]
    except OSError:
        return  # no shared library folder for this version: build everything here
    for name in names:
        try:
            os.symlink(shared / name, own / name)
        except FileExistsError:
            pass  # another process linked or built it meanwhile


_LIBRARY, SHARED_LIBRARY = _locate()
if SHARED_LIBRARY is not None:
    _link(SHARED_LIBRARY, _LIBRARY)


def library_path() -> Path:
    """The library folder this process reads and builds into."""
    return _LIBRARY


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
        path = _write(library_path() / f"{name.rsplit('.', 1)[-1]}.py", source)
    except OSError:
        path = _write(Path(tempfile.mkdtemp(prefix="layerc-")) / "generated.py", source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _write(path: Path, source: str) -> Path:
    if path.is_file() and not path.is_symlink() and path.read_text() == source:
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


def load_signature(dispatcher: Any, signature: tuple) -> bool:
    """Loads the cached machine code of `dispatcher` for `signature`, if the
    cache has it, without Numba's full registry set-up; says whether the
    dispatcher now has it (compiled before, or loaded). On a miss it does
    nothing, and the first call compiles the normal way.

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
    with global_compiler_lock:
        if signature in dispatcher.overloads:
            return True
        saved = cpu.CPUContext.refresh
        cpu.CPUContext.refresh = _nrt_only  # type: ignore[method-assign]
        try:
            result = dispatcher._cache.load_overload(signature, dispatcher.targetctx)
        finally:
            cpu.CPUContext.refresh = saved  # type: ignore[method-assign]
        if result is None:
            return False
        dispatcher._cache_hits[signature] += 1
        dispatcher.targetctx.insert_user_function(result.entry_point, result.fndesc,
                                                  [result.library])
        dispatcher.add_overload(result)
        return True
