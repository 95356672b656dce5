"""The table of CPU lowerings: one function per op kind, emitting plan rows
(the op families in `codegen/cpu/ops/` register theirs with `@lowers`)."""

from __future__ import annotations

from layerc.codegen.base import lowering_table

LOWERINGS, lowers = lowering_table("CPU")
