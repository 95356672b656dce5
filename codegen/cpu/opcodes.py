"""The CPU plan's opcodes, each with the named operand fields it declares once.

A plan is an int64 array with a row per instruction: the opcode in column
OPCODE, then the operands in the order the opcode's schema declares them.
Arena offsets are per sample (a step scales them by the batch); weight
offsets index the flat weight arena. A family of ops declares its opcodes in
its own file of `codegen/cpu/ops/` with `opcode(...)`, reads a row's operands
by name through `op.cols` (a namedtuple of column numbers, which Numba folds
into constants) in the njit step function it registers with `@runs(op)`, and
writes them by name in its lowering; the interpreter dispatches on opcodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from layerc.codegen.codes import CELL, GATE_COUNT, INIT
from layerc.codegen.schema import Schema

WIDTH = 32  # columns per instruction row
OPCODE = 0  # the column of the opcode

F = TypeVar("F")


@dataclass(frozen=True)
class Opcode:
    code: int
    schema: Schema
    cols: Any  # a namedtuple: each field's column in a row

    @property
    def name(self) -> str:
        return self.schema.name

    def row(self, operands: Mapping[str, int], where: str) -> list[int]:
        """The plan row of these operands, checked against the schema."""
        self.schema.check(operands, where)
        values = [int(operands[f]) for f in self.schema.fields]
        return [self.code, *values] + [0] * (WIDTH - 1 - len(values))


OPCODES: dict[int, Opcode] = {}
STEPS: dict[int, Callable[..., None]] = {}  # opcode -> the njit function that runs its rows


def opcode(name: str, fields: str) -> Opcode:
    """Declares an opcode and its operand fields (`"x y size"`); codes follow
    the order of declaration, which the sorted import of the op files fixes."""
    schema = Schema.of(name, fields)
    if 1 + len(schema.fields) > WIDTH:
        raise ValueError(f"opcode {name} has {len(schema.fields)} operands; a row holds "
                         f"{WIDTH - 1}")
    if any(op.name == name for op in OPCODES.values()):
        raise ValueError(f"opcode {name} is declared twice")
    op = Opcode(len(OPCODES) + 1, schema, schema.columns(OPCODE + 1))
    OPCODES[op.code] = op
    return op


def named(name: str) -> Opcode | None:
    """The opcode a shared lowering's step names (codegen/lowering.py), if any."""
    return next((op for op in OPCODES.values() if op.name == name), None)


def runs(op: Opcode) -> Callable[[F], F]:
    """Registers the njit function that executes `op`'s rows:
    `step(r, weights, arena, state, batch)` with r the row."""
    def register(step: F) -> F:
        if op.code in STEPS:
            raise ValueError(f"opcode {op.name} has two steps")
        STEPS[op.code] = step  # type: ignore[assignment]
        return step
    return register


# ----- what a row touches: the plan verifier's declarations (plan_check.py) -----
@dataclass(frozen=True)
class Region:
    """Floats a row's step reads or writes: in the activation `arena` or the
    `state` arena (per-sample offsets and sizes: the step scales both by the
    batch), the kernel `scratch` after the planned tensors (per sample, its
    extent the lowering's request), or the `weights` (absolute; size 0: a
    packed weight whose size its variant decides, which must start a weight
    the lowering stored)."""

    buffer: str
    field: str
    start: int
    size: int


class BadRow(Exception):
    """A row's operands contradict each other (plan_check.py reports it)."""


def need(condition: bool, why: str) -> None:
    """A footprint's precondition on a row's operands."""
    if not condition:
        raise BadRow(why)


Footprint = Callable[[Any], list[Region]]
FOOTPRINTS: dict[int, Footprint] = {}  # opcode -> the regions of a row's operands


def touches(op: Opcode) -> Callable[[Footprint], Footprint]:
    """Registers what a row of `op` touches: `footprint(r)`, r the row's
    operands by name (r.x, r.size...), gives its Regions (leave out an
    optional operand that is -1). The plan verifier checks each against its
    buffer before a program first runs."""
    def register(footprint: Footprint) -> Footprint:
        if op.code in FOOTPRINTS:
            raise ValueError(f"opcode {op.name} has two footprints")
        FOOTPRINTS[op.code] = footprint
        return footprint
    return register


def arena(r: Any, field: str, size: int) -> list[Region]:
    """The arena floats of operand `field` (none when it is -1, an absent one)."""
    start = getattr(r, field)
    return [] if start == -1 else [Region("arena", field, start, size)]


def weights(r: Any, field: str, size: int = 0) -> list[Region]:
    start = getattr(r, field)
    return [] if start == -1 else [Region("weights", field, start, size)]


def state(r: Any, field: str, size: int) -> list[Region]:
    start = getattr(r, field)
    return [] if start == -1 else [Region("state", field, start, size)]


def scratch(r: Any, field: str = "scratch") -> list[Region]:
    return [Region("scratch", field, getattr(r, field), 0)]


def window(r: Any, y: str | None = "y", f: int | None = None) -> list[Region]:
    """A window op's input (d x h x w x c per sample) and output `y` (od x oh
    x ow x f; the depth 1 without DEPTH_FIELDS; None: none), after its
    geometry's checks."""
    d, od = getattr(r, "d_", 1), getattr(r, "od", 1)
    sizes = (r.kh, r.kw, r.sh, r.sw, r.dh, r.dw, getattr(r, "kd", 1), getattr(r, "sd", 1),
             getattr(r, "dd", 1))
    need(min(sizes) >= 1, f"window, strides and dilations {sizes}")
    need(min(d, r.h, r.w_, r.c, od, r.oh, r.ow) >= 1, "an empty input or output")
    out = [] if y is None else arena(r, y, od * r.oh * r.ow * (r.f if f is None else f))
    return arena(r, "x", d * r.h * r.w_ * r.c) + out


def sequence(r: Any) -> list[Region]:
    """A recurrent step's output (every step's with return_sequences), mask,
    initial states in the arena, stateful slot and final states, both
    targets' (their fields share these names); checks the cell code."""
    need(0 <= r.cell < len(GATE_COUNT), f"cell {r.cell}")
    two = r.cell == CELL.lstm  # an LSTM's h and c
    regions = arena(r, "y", r.steps * r.units if r.seq else r.units) + arena(r, "mask", r.steps)
    if r.init == INIT.arena:
        regions += arena(r, "h0", r.units) + (arena(r, "c0", r.units) if two else [])
    if r.init == INIT.state:
        regions += state(r, "state", (2 if two else 1) * r.units)
    if r.ret_state:
        regions += arena(r, "ht", r.units) + (arena(r, "ct", r.units) if two else [])
    return regions
