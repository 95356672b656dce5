"""Named operands: the declared fields of one kind of step of a program (an
opcode of the CPU plan, a CUDA kernel launch).

A lowering writes a step's operands by name; `Schema.check` refuses a missing
or unknown one, so a lowering and the kernel that reads the step cannot drift
apart. The listing shows a step's operands in the declared order, coded fields
(activations, binary ops, cells, ...) by their names (`codes.NAMES`).
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

from layerc.codegen.codes import NAMES
from layerc.ir import TargetError


@dataclass(frozen=True)
class Schema:
    name: str
    fields: tuple[str, ...]

    @classmethod
    def of(cls, name: str, fields: str) -> Schema:
        """A schema from the fields written as one string: `"x y size"`."""
        names = tuple(fields.split())
        if len(set(names)) != len(names):
            raise ValueError(f"step {name}: a field is declared twice in {fields!r}")
        return cls(name, names)

    def check(self, operands: Mapping[str, int], where: str) -> None:
        """Raises TargetError unless `operands` has exactly the declared fields."""
        missing = [f for f in self.fields if f not in operands]
        unknown = [f for f in operands if f not in self.fields]
        if missing or unknown:
            raise TargetError(f"{where}: step {self.name} takes {' '.join(self.fields)}; "
                              f"missing {missing}, unknown {unknown}")

    def columns(self, first: int) -> Any:
        """A namedtuple of the fields' column numbers, from `first` on."""
        return namedtuple(f"{self.name}_columns", self.fields)(
            *range(first, first + len(self.fields)))

    def line(self, operands: Mapping[str, int], node: str) -> str:
        """A listing line: `name field=value ... ; %node`, in declared order."""
        args = " ".join(f"{f}={show(f, operands[f])}" for f in self.fields)
        return f"{self.name:<12} {args:<70} ; %{node}"


def show(field: str, value: int) -> str:
    """How the listing writes one operand: a coded field by its name."""
    names = NAMES.get(field)
    if names is not None and 0 <= value < len(names):
        return names[value]
    return str(value)
