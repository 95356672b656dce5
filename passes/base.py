"""What a pass is: a named object with `run(graph) -> PassResult`."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from collections.abc import Iterator

from layerc.ir import Graph, Node


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


@contextmanager
def rewriting(node: Node) -> Iterator[None]:
    """Marks the node a pass is looking at: an error raised inside is reported
    by the pass manager with the pass's name, this node and the IR around it."""
    try:
        yield
    except Exception as err:
        if getattr(err, "layerc_node", None) is None:
            err.layerc_node = node.id  # type: ignore[attr-defined]
        raise
