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
