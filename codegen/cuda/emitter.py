"""The CUDA emitter: collects kernel launches, the weight arena and a listing.

A launch is data: a kernel name and its named int operands, checked against
the kernel's schema (declared with `kernel`), arena offsets counted per
sample (the launcher scales them by the batch). The listing is the program's source text:
deterministic, one line per launch, in the CPU plan's `name operands ; %node`
form so `layerc inspect` reads both.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerc.codegen.base import BaseEmitter
from layerc.codegen.schema import Schema
from layerc.ir import Graph, Node, TargetError

ALIGN = 32  # floats: 128-byte aligned weight blocks

KERNELS: dict[str, Schema] = {}  # every kernel's operand fields, by name


def kernel(name: str, fields: str) -> Schema:
    """Declares the operand fields of kernel `name` (`"x y size"`), which its
    lowerings must write and its launcher reads."""
    if name in KERNELS:
        raise ValueError(f"kernel {name} is declared twice")
    KERNELS[name] = schema = Schema.of(name, fields)
    return schema


@dataclass(frozen=True)
class Launch:
    kernel: str
    node: str
    operands: tuple[tuple[str, int], ...]

    def get(self, name: str) -> int:
        return dict(self.operands)[name]


class Emitter(BaseEmitter):
    def __init__(self, graph: Graph) -> None:
        super().__init__(graph, ALIGN)
        self.launches: list[Launch] = []

    def launch(self, kernel: Schema, node: Node, **operands: int) -> None:
        """Appends a launch of `kernel` with its operands by name (all of
        them, and no others: the kernel's schema checks)."""
        kernel.check(operands, node.label)
        self.launches.append(Launch(kernel.name, node.id,
                                    tuple((f, int(operands[f])) for f in kernel.fields)))
        self.listing(kernel, node, operands)

    def step(self, kernel: str, node: Node, **operands: int) -> None:
        schema = KERNELS.get(kernel)
        if schema is None:
            raise TargetError(f"{node.label}: the CUDA backend has no kernel {kernel!r}")
        self.launch(schema, node, **operands)
