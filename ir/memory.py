"""The memory plan: where each tensor lives in the activation arena.

Offsets and sizes count float32 elements *per sample*; at run time a batch of
B samples scales every offset by B, so one plan serves every batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerc.ir.node import Port


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    offsets: tuple[tuple[Port, int], ...]  # every tensor's per-sample offset
    arena_size: int  # floats per sample in the planned arena
    naive_size: int  # floats per sample if every tensor had its own buffer

    def offset(self, port: Port) -> int:
        for p, off in self.offsets:
            if p == port:
                return off
        raise KeyError(f"{port} has no buffer in the memory plan")

    def to_json(self) -> dict:
        return {
            "offsets": [[p.node, p.index, off] for p, off in self.offsets],
            "arena_size": self.arena_size,
            "naive_size": self.naive_size,
        }

    @classmethod
    def from_json(cls, data: dict) -> MemoryPlan:
        offsets = tuple((Port(n, i), off) for n, i, off in data["offsets"])
        return cls(offsets, data["arena_size"], data["naive_size"])
