"""The plan verifier: before a program first runs, every step (a CPU plan row,
a CUDA launch) is checked against the buffers it will touch (the bytecode
verifier's idea: check once, then run without checks).

Each CPU opcode declares what a row touches (`cpu.opcodes.touches`): its
operands' regions of the activation arena, the state arena, the kernel
scratch and the weights, computed from the row's own fields, which is what
its kernel indexes with, and the preconditions its kernel assumes (`need`).
A CUDA kernel with the CPU opcode's name and fields shares its declaration;
the others declare their own (`cuda/footprints.py`). Arena, scratch and state
offsets and sizes are per sample and every step scales them by the batch, so
a step that fits per sample fits at every batch size. On the CPU a weight
region must start at a weight the lowering stored and fit in it; the CUDA
kernels' weight layouts differ, so there it must lie in the weight arena. A
step that would reach outside a buffer is a TargetError naming the node, the
kernel and the operand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from layerc.codegen.cpu.opcodes import BadRow, Footprint, Region
from layerc.ir import TargetError


Step = tuple[str, str, "Footprint | None", Any]  # where, kernel name, footprint, operands


@dataclass(frozen=True)
class Buffers:
    """A program's buffers, in floats: `planned` per sample for the memory
    plan's tensors, `arena` per sample with the kernel scratch after them,
    `state` per sample, and `weights` in all (`stored`: where each stored
    weight starts, with its size; None: do not check starts)."""

    planned: int
    arena: int
    state: int
    weights: int
    stored: Mapping[int, int] | None


def check_steps(steps: Iterable[Step], buffers: Buffers) -> None:
    """Raises TargetError unless every step stays inside `buffers`; a step
    is (where, kernel name, its footprint, its operands by name)."""
    for where, name, footprint, operands in steps:
        if footprint is None:
            raise TargetError(f"{where}: kernel {name} declares no footprint")
        try:
            regions = footprint(operands)
        except (BadRow, ZeroDivisionError) as err:
            raise TargetError(f"{where} ({name}): its operands contradict each other: "
                              f"{err}") from None
        for region in regions:
            problem = _outside(region, buffers)
            if problem:
                raise TargetError(f"{where} ({name}): operand {region.field} {problem}")


def _outside(region: Region, b: Buffers) -> str | None:
    start, size = region.start, region.size
    if size < 0:
        return f"covers {size} floats"
    if region.buffer == "scratch":
        if start < b.planned or start + size > b.arena:
            return (f"puts kernel scratch at {start}..{start + size}, outside the scratch "
                    f"{b.planned}..{b.arena} after the planned tensors")
        return None
    limit = {"arena": b.arena, "state": b.state, "weights": b.weights}[region.buffer]
    if start < 0 or start + size > limit:
        unit = "" if region.buffer == "weights" else " per sample"
        return f"covers {region.buffer} floats {start}..{start + size} of {limit}{unit}"
    if region.buffer == "weights" and b.stored is not None:
        stored = b.stored.get(start)
        if stored is None:
            return f"starts at weight float {start}, where no stored weight starts"
        if size > stored:
            return f"reads {size} floats of a stored weight of {stored}"
    return None
