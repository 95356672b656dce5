"""Where Numba caches the CPU kernel library, and when that cache is stale.

Numba keys a cached function on its own file's content only, so a cached
`run_plan` would keep running old copies of kernels edited in another file
(NUMBA_NOTES.md). This locator keys every function of the kernel library on a
hash of the whole library's sources instead, and keeps the cache in
`$LAYERC_CACHE_DIR/cpu-<hash>` (default `~/.cache/layerc`), so checkouts of
different versions never overwrite each other's entries. Import this module
before any kernel is decorated.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from numba.core.caching import CacheImpl, _CacheLocator

LIBRARY = Path(__file__).resolve().parent


def cache_root() -> Path:
    return Path(os.environ.get("LAYERC_CACHE_DIR") or Path.home() / ".cache" / "layerc")


def _library_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(LIBRARY.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


SOURCE_HASH = _library_hash()


class LibraryCacheLocator(_CacheLocator):
    def __init__(self, py_func: Any, py_file: str) -> None:
        self._lineno = py_func.__code__.co_firstlineno
        self._path = str(cache_root() / f"cpu-{SOURCE_HASH}")

    def get_cache_path(self) -> str:
        return self._path

    def get_source_stamp(self) -> str:
        return SOURCE_HASH

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> "LibraryCacheLocator | None":
        if Path(py_file).resolve().parent != LIBRARY:
            return None
        locator = cls(py_func, py_file)
        try:
            locator.ensure_cache_path()
        except OSError:
            return None  # unwritable: fall back to Numba's own locators
        return locator


if LibraryCacheLocator not in CacheImpl._locator_classes:
    CacheImpl._locator_classes.insert(0, LibraryCacheLocator)
