"""What a pass is: a named object with `run(graph) -> PassResult`."""

from __future__ import annotations

from dataclasses import dataclass

from layerc.ir import Graph


@dataclass(frozen=True)
class PassResult:
    graph: Graph
    changed: int  # how many rewrites the pass made (0: the graph is unchanged)
    notes: tuple[str, ...] = ()  # why candidate rewrites did not fire


class Pass:
    """A graph-to-graph rewrite. `run` never edits its argument: it copies first."""

    name: str = ""

    def run(self, graph: Graph) -> PassResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<pass {self.name}>"
