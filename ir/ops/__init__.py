"""Op rule files; importing this package registers every op kind."""

from layerc.ir.ops import core, merge  # noqa: F401
