"""What a pass is: a named object with `run(graph) -> PassResult`."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from collections.abc import Callable, Iterator

from layerc.ir import Graph, Node, OpKind


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


def rewrite_each(graph: Graph, kind: OpKind, check: Callable[[Graph, Node], str],
                 rewrite: Callable[[Graph, Node], None], verb: str) -> PassResult:
    """A copy of `graph` with `rewrite` applied to each node of `kind`, in
    order, that `check` lets through ('' means it may; else the reason,
    noted as "%node: not <verb>: <reason>")."""
    g = graph.copy()
    count = 0
    notes: list[str] = []
    for node in g.nodes():
        if node.op is not kind:
            continue
        node = g.node(node.id)  # earlier rewrites may have changed its inputs
        with rewriting(node):
            why = check(g, node)
            if why:
                notes.append(f"%{node.id}: not {verb}: {why}")
                continue
            rewrite(g, node)
            count += 1
    return PassResult(g, count, tuple(notes))
