"""The IR graph: frozen nodes in a DAG, plus inputs, outputs and weights.

Positional inputs live on each node; successor sets mirror them as edges, and
`nx_graph` gives the same DAG as a networkx DiGraph for graph algorithms
(cycles, reachability).  networkx is imported only then: loading an artifact
never needs it, and it costs ~0.1 s of a 0.5 s cold start.  Every edit goes
through a method here; passes never touch the adjacency dictionaries.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from layerc.ir.errors import IRError
from layerc.ir.memory import MemoryPlan
from layerc.ir.node import Node, Port
from layerc.ir.opkind import OpKind
from layerc.ir.types import TensorType

if TYPE_CHECKING:
    import networkx as nx


class Graph:
    def __init__(self, name: str = "model") -> None:
        self.name = name
        self._nodes: dict[str, Node] = {}
        self._succ: dict[str, set[str]] = {}  # edges: producer -> the nodes reading it
        self._order: dict[str, int] = {}  # insertion order keeps printing stable
        self._next = 0
        self.inputs: list[str] = []
        self.outputs: list[Port] = []
        self.weights: dict[str, np.ndarray] = {}
        self.memory_plan: MemoryPlan | None = None

    # ----- queries -----
    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise IRError(f"graph {self.name} has no node %{node_id}") from None

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def nodes(self) -> list[Node]:
        """All nodes in a deterministic topological order: among the nodes whose
        producers are all placed, the earliest inserted comes first."""
        indegree = {n: 0 for n in self._nodes}
        for users in self._succ.values():
            for u in users:
                indegree[u] += 1
        ready = [(self._order[n], n) for n, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        order: list[Node] = []
        while ready:
            _, n = heapq.heappop(ready)
            order.append(self._nodes[n])
            for u in self._succ[n]:
                indegree[u] -= 1
                if indegree[u] == 0:
                    heapq.heappush(ready, (self._order[u], u))
        if len(order) != len(self._nodes):
            raise IRError(f"graph {self.name} has a cycle")
        return order

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes())

    def type_of(self, port: Port) -> TensorType:
        return self.node(port.node).types[port.index]

    def users(self, node_id: str) -> list[Node]:
        """The nodes that read any output of `node_id`, in order."""
        succ = sorted(self._succ.get(node_id, ()), key=self._order.__getitem__)
        return [self._nodes[n] for n in succ]

    def use_count(self, port: Port) -> int:
        """How many input slots and graph outputs read `port`."""
        uses = sum(1 for user in self.users(port.node) for p in user.inputs if p == port)
        return uses + self.outputs.count(port)

    def input_types(self, node: Node) -> tuple[TensorType, ...]:
        return tuple(self.type_of(p) for p in node.inputs)

    # ----- edits -----
    def fresh_id(self, base: str) -> str:
        if base not in self._nodes:
            return base
        i = 1
        while f"{base}_{i}" in self._nodes:
            i += 1
        return f"{base}_{i}"

    def add(self, op: OpKind, inputs: tuple[Port, ...] | list[Port], attrs: Any,
            weights: tuple[str, ...] = (), layer: str = "", layer_kind: str = "",
            source: str = "", id: str | None = None) -> Node:
        """Builds a node over existing ports (inferring its types) and adds it."""
        inputs = tuple(Port(*p) for p in inputs)
        for p in inputs:
            self.type_of(p)  # raises if the producer is missing
        node_id = self.fresh_id(id or layer or op.value)
        node = Node.make(node_id, op, inputs, attrs, tuple(self.type_of(p) for p in inputs),
                         weights, layer, layer_kind, source)
        self._insert(node)
        if op is OpKind.INPUT:
            self.inputs.append(node.id)
        return node

    def _insert(self, node: Node) -> None:
        self._nodes[node.id] = node
        self._succ[node.id] = set()
        self._order[node.id] = self._next
        self._next += 1
        for p in node.inputs:
            self._succ[p.node].add(node.id)

    def replace(self, node_id: str, op: OpKind, attrs: Any, inputs: tuple[Port, ...] | None = None,
                weights: tuple[str, ...] | None = None) -> Node:
        """Rebuilds a node in place (same id and position); its types are re-inferred
        and must equal the old ones, so users stay valid."""
        old = self.node(node_id)
        inputs = old.inputs if inputs is None else tuple(Port(*p) for p in inputs)
        weights = old.weights if weights is None else weights
        new = Node.make(node_id, op, inputs, attrs, tuple(self.type_of(p) for p in inputs),
                        weights, old.layer, old.layer_kind, old.source)
        if new.types[: len(old.types)] != old.types and self.users(node_id):
            raise IRError(f"replacing %{node_id} changes its type {old.types} -> {new.types}")
        for p in old.inputs:
            self._succ[p.node].discard(node_id)
        self._nodes[node_id] = new
        for p in inputs:
            self._succ[p.node].add(node_id)
        return new

    def redirect(self, old: Port, new: Port) -> int:
        """Makes every reader of `old` (nodes and graph outputs) read `new` instead."""
        if self.type_of(old) != self.type_of(new):
            raise IRError(f"cannot redirect {old} ({self.type_of(old)}) "
                          f"to {new} ({self.type_of(new)})")
        count = 0
        for user in self.users(old.node):
            if user.id == new.node:
                continue
            inputs = tuple(new if p == old else p for p in user.inputs)
            if inputs != user.inputs:
                count += sum(1 for p in user.inputs if p == old)
                self.replace(user.id, user.op, user.attrs, inputs)
        for i, p in enumerate(self.outputs):
            if p == old:
                self.outputs[i] = new
                count += 1
        return count

    def remove(self, node_id: str) -> None:
        """Removes a node nobody reads."""
        if self.users(node_id) or any(p.node == node_id for p in self.outputs):
            raise IRError(f"cannot remove %{node_id}: it still has users")
        if node_id in self.inputs:
            raise IRError(f"cannot remove graph input %{node_id}")
        for p in self._nodes.pop(node_id).inputs:
            self._succ[p.node].discard(node_id)
        del self._succ[node_id]
        del self._order[node_id]

    def prune_weights(self) -> None:
        """Drops weights no node refers to."""
        used = {w for n in self.nodes() for w in n.weights}
        self.weights = {k: v for k, v in self.weights.items() if k in used}

    def copy(self) -> Graph:
        """A new graph sharing the (immutable) nodes and weight arrays."""
        g = Graph(self.name)
        g._nodes = dict(self._nodes)
        g._succ = {n: set(users) for n, users in self._succ.items()}
        g._order = dict(self._order)
        g._next = self._next
        g.inputs = list(self.inputs)
        g.outputs = list(self.outputs)
        g.weights = dict(self.weights)
        g.memory_plan = self.memory_plan
        return g

    def insert_before(self, anchor: str, op: OpKind, inputs: tuple[Port, ...], attrs: Any,
                      layer: str = "", layer_kind: str = "", source: str = "",
                      id: str | None = None) -> Node:
        """Adds a node that prints just before `anchor` (same sort position)."""
        node = self.add(op, inputs, attrs, layer=layer, layer_kind=layer_kind, source=source,
                        id=id)
        ranked = sorted((n for n in self._order if n != node.id), key=self._order.__getitem__)
        ranked.insert(ranked.index(anchor), node.id)
        self._order = {n: i for i, n in enumerate(ranked)}
        self._next = len(ranked)
        return node

    def has_edge(self, producer: str, user: str) -> bool:
        return user in self._succ.get(producer, ())

    @property
    def nx_graph(self) -> nx.DiGraph:
        """The DAG as a new networkx DiGraph (nodes carry `node=`), for graph
        algorithms; edits to it do not reach this graph."""
        import networkx as nx

        g = nx.DiGraph()
        for n in sorted(self._nodes, key=self._order.__getitem__):
            g.add_node(n, node=self._nodes[n])
        g.add_edges_from((a, b) for a, users in self._succ.items() for b in users)
        return g
