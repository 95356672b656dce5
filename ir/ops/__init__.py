"""Op rule files; importing this package registers every op kind."""

from layerc.ir.ops import conv, core, embedding, local, merge, pool, recurrent  # noqa: F401
