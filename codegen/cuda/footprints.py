"""What each CUDA kernel's launch touches, for the plan verifier
(codegen/plan_check.py). A kernel with a CPU opcode's name and operand
fields shares the CPU's declaration for its arena and state regions (its
weight layout may differ: there only the weights' starts are checked against
the weight arena); the kernels below are the CUDA's own."""

from __future__ import annotations

from typing import Any

from layerc.codegen.codes import GATE_COUNT
from layerc.codegen.cpu import ops  # noqa: F401  (declares the CPU opcodes' footprints)
from layerc.codegen.cpu.opcodes import (FOOTPRINTS, OPCODES, Footprint, Region, arena, need,
                                        sequence, weights, window)
from layerc.codegen.cuda.emitter import KERNELS
from layerc.codegen.cuda.ops.recurrent import WORK_UNITS


def _softmax(r: Any) -> list[Region]:
    need(r.row >= 1 and r.size % r.row == 0, f"{r.size} values in rows of {r.row}")
    return arena(r, "x", r.size) + arena(r, "y", r.size)


def _conv(r: Any) -> list[Region]:
    need(r.groups >= 1 and r.c % r.groups == 0 and r.f % r.groups == 0,
         f"{r.c} channels into {r.f} filters in {r.groups} groups")
    return window(r) + weights(r, "w") + weights(r, "b")


def _local(r: Any) -> list[Region]:
    positions = r.oh * r.ow
    return (window(r) + weights(r, "w", positions * r.kh * r.kw * r.c * r.f)
            + weights(r, "b", positions * r.f))


def _recurrent(r: Any) -> list[Region]:
    """xw (the input projection, steps x gates) and work are kernel scratch."""
    regions = sequence(r)
    g = GATE_COUNT[r.cell] * r.units
    return regions + [Region("scratch", "xw", r.xw, r.steps * g),
                      Region("scratch", "work", r.work, WORK_UNITS * r.units),
                      *weights(r, "wr", r.units * g), *weights(r, "brec", g)]


OWN: dict[str, Footprint] = {"softmax": _softmax, "conv": _conv, "local": _local,
                             "recurrent": _recurrent}


def footprint(name: str) -> Footprint | None:
    """The footprint of CUDA kernel `name`: its own, else the CPU opcode's of
    the same name and operand fields, else None."""
    if name in OWN:
        return OWN[name]
    schema = KERNELS.get(name)
    op = next((op for op in OPCODES.values() if op.name == name), None)
    if schema is None or op is None or op.schema.fields != schema.fields \
            or op.code not in FOOTPRINTS:
        return None
    return _arena_of(FOOTPRINTS[op.code])


def _arena_of(cpu: Footprint) -> Footprint:
    """A CPU footprint for a CUDA kernel: its arena and state regions as
    they are, its weight regions reduced to where they start (the CPU's
    packed layouts are larger than the CUDA's)."""
    def footprint(r: Any) -> list[Region]:
        return [Region(g.buffer, g.field, g.start, 0) if g.buffer == "weights" else g
                for g in cpu(r)]
    return footprint
