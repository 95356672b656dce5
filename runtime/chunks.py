"""How much working memory a predict may take: the arena cap, and the chunk
size it gives.

A predict runs its batch in an activation arena of `program.arena_size`
floats per sample. A batch whose arena would exceed the cap runs in chunks
of the largest number of samples whose arena fits (at least one: a model
whose single sample exceeds the cap runs one sample at a time). The outputs
for the whole batch are the caller's result and are not counted; neither are
the inputs, which chunks read in place.

The cap is `max_arena_bytes=` (of `layerc.compile`, `layerc.load` or one
`predict`), else `LAYERC_MAX_ARENA_MB` (MiB, read when the model is compiled
or loaded), else DEFAULT_MB. The arenas a model keeps between calls are
bounded by it too (`CompiledModel` hands a quarter of it to the program's
`ThreadArenas` as the budget of kept arenas, all threads together, and a
sixteenth as the largest arena kept; see `codegen/base.py`).
"""

from __future__ import annotations

import os

from layerc.ir import ConfigError, InputError

ENV = "LAYERC_MAX_ARENA_MB"
DEFAULT_MB = 256
FLOAT_BYTES = 4  # arenas hold float32
CACHE_SHARE = 4  # kept arenas: at most cap // CACHE_SHARE bytes per model
KEEP_SHARE = 16  # an arena over cap // KEEP_SHARE bytes is not kept after its call


def resolve_cap(value: int | None, where: str = "compile") -> int:
    """The cap in bytes: `value`, else LAYERC_MAX_ARENA_MB, else DEFAULT_MB.
    A bad value is a ConfigError naming where it came from."""
    if value is not None:
        return checked_cap(value, f"{where}: max_arena_bytes", ConfigError)
    text = os.environ.get(ENV, "").strip()
    if not text:
        return DEFAULT_MB << 20
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = float("nan")
    if not megabytes > 0 or megabytes == float("inf"):
        raise ConfigError(f"{ENV}={text!r}: expected a positive number of MiB (e.g. 256)")
    return max(int(megabytes * (1 << 20)), 1)


def checked_cap(value: object, what: str, error: type[Exception] = InputError) -> int:
    """`value` if it is a positive int (not a bool), else `error` naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise error(f"{what} must be a positive int (bytes), got {value!r}")
    return value


def chunk_samples(arena_floats: int, cap: int) -> int:
    """The most samples whose arena fits in `cap` bytes, at least 1."""
    return max(cap // (max(arena_floats, 1) * FLOAT_BYTES), 1)
