"""The table of CUDA lowerings: one function per op kind, emitting launches."""

from __future__ import annotations

from layerc.codegen.base import lowering_table

LOWERINGS, lowers = lowering_table("CUDA")
