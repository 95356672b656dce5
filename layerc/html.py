"""A picture of a compiled model: one self-contained HTML page.

`render(compiled)` draws the optimized graph as boxes and arrows (each node's
op, types, parameters, kernel variant, fused epilogue and how the backend
runs it), lists what each pass changed, and charts the memory plan: one bar
per arena buffer, its offset against the steps it lives through.
`layerc inspect MODEL --html OUT.html` writes it.

The page fetches nothing (inline CSS, SVG and a few lines of script), so it
opens offline and travels with a bug report. Graphviz's `dot`, where it is
installed, only places the boxes and routes the edges (`dot -Tplain`); the
drawing is the same either way, and without graphviz a layered layout (one
row per topological generation, from networkx) places them.

It lives in the frontend rather than on CompiledModel: the runtime imports no
frontend module (DESIGN.md), and a page is presentation, not execution.
"""

from __future__ import annotations

import html
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from layerc.errors import ConfigError
from layerc.ir import Graph, MemoryPlan, Node, OpKind, Port, rule_for
from layerc.ir.printer import format_attrs
from layerc.ir.memory import buffers as lifetimes
from layerc.runtime import CompiledModel

MARGIN = 12.0  # px around the drawing
GAP_X = 28.0  # px between boxes in a row
GAP_Y = 44.0  # px between rows
LINE_H = 16.0  # px per text line in a box
CHAR_W = 7.4  # px per character of the boxes' 12px monospace text (0.6 em, rounded up)
MAX_CHARS = 46  # a longer box line is cut; the hover title has it whole
WAYPOINT_W = 8.0  # px: the room a long edge takes in a row it passes through
DOT_TIMEOUT_S = 20


@dataclass(frozen=True)
class Family:
    """Op kinds drawn in one colour (fill, stroke)."""

    name: str
    fill: str
    stroke: str
    ops: tuple[OpKind, ...]


K = OpKind
# Colours are presentation only, so the table lives here; an op kind missing
# from it is drawn as OTHER.
FAMILIES = (
    Family("input", "#eceff1", "#546e7a", (K.INPUT,)),
    Family("matrix product", "#e3f2fd", "#1e88e5", (K.DENSE, K.DOT, K.ATTENTION)),
    Family("convolution", "#fff3e0", "#ef6c00", (K.CONV, K.CONV_TRANSPOSE, K.LOCAL)),
    Family("pooling, resizing", "#e8f5e9", "#2e7d32",
           (K.POOL, K.GLOBAL_POOL, K.UPSAMPLE, K.RESIZE)),
    Family("recurrent", "#f3e5f5", "#8e24aa", (K.RECURRENT,)),
    Family("embedding", "#e0f2f1", "#00897b", (K.EMBEDDING,)),
    Family("normalization", "#fffde7", "#b59b00",
           (K.BATCH_NORM, K.LAYER_NORM, K.GROUP_NORM, K.NORMALIZE, K.RESCALE)),
    Family("activation", "#fce4ec", "#c2185b",
           (K.ACTIVATION, K.RELU, K.ELU, K.PRELU, K.SOFTMAX, K.GLU)),
    Family("merge", "#efebe9", "#6d4c41", (K.ADD, K.SUBTRACT, K.MULTIPLY, K.AVERAGE, K.MAXIMUM,
                                           K.MINIMUM, K.CONCATENATE, K.MASKED_MERGE)),
    Family("data movement", "#f5f5f5", "#757575",
           (K.FLATTEN, K.RESHAPE, K.VIEW, K.TRANSPOSE, K.REPEAT, K.PAD, K.CROP, K.BROADCAST,
            K.REVERSE, K.DROPOUT, K.MASKING)),
)
OTHER = Family("other", "#ffffff", "#24292f", ())


def family(op: OpKind) -> Family:
    return next((f for f in FAMILIES if op in f.ops), OTHER)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


# ----- what the page says about each node -----

@dataclass(frozen=True)
class NodeFacts:
    """What the page says about one node."""

    node: Node
    params: int
    variant: str  # the kernel variant specialize-padding chose ("" if none)
    epilogue: str  # the activation its kernel applies ("" if none)
    rows: tuple[str, ...]  # its plan rows, as the program lists them
    step: str  # how the backend runs it, in words
    guests: tuple[str, ...]  # the nodes its step runs too
    output: bool  # a model output

    @property
    def how(self) -> str:
        """`step` with its guests, in one line."""
        return self.step + "".join(f", also runs %{g}" for g in self.guests)


def plan_rows(program_text: str) -> dict[str, list[str]]:
    """node id -> its rows in a program listing (CPU and CUDA listings both
    end each row with `; %node`); a node with none has no step of its own."""
    rows: dict[str, list[str]] = {}
    for line in program_text.splitlines():
        if line.startswith(";") or "; %" not in line:
            continue
        row, _, node = line.rpartition("; %")
        rows.setdefault(node.strip(), []).append(" ".join(row.split()))
    return rows


def _host(graph: Graph, node: Node, rows: dict[str, list[str]]) -> str | None:
    """The node whose step runs `node` too (a max pooling in its
    convolution's): `node` has no row, its first input's producer has, and
    the op's rule allows it (the trait plan-memory also asks)."""
    if node.id in rows or not node.inputs or rule_for(node.op).is_view:
        return None
    producer = graph.node(node.inputs[0].node)
    if producer.id in rows and rule_for(node.op).runs_in_producer(node.attrs, producer):
        return producer.id
    return None


def _step(graph: Graph, node: Node, rows: dict[str, list[str]]) -> str:
    if node.id in rows:
        return "step: " + " + ".join(row.split()[0] for row in rows[node.id])
    host = _host(graph, node, rows)
    if host is not None:
        return f"runs in %{host}'s step"
    if node.op is OpKind.INPUT:
        return "graph input"
    if rule_for(node.op).is_view:
        return f"view of %{node.inputs[0].node}: no copy"
    return "no step of its own"


def node_facts(model: CompiledModel) -> dict[str, NodeFacts]:
    graph = model.graph
    rows = plan_rows(model.program.text)
    guests: dict[str, list[str]] = {}
    for node in graph.nodes():
        host = _host(graph, node, rows)
        if host is not None:
            guests.setdefault(host, []).append(node.id)
    outputs = {p.node for p in graph.outputs}
    return {node.id: NodeFacts(node, sum(graph.weights[w].size for w in node.weights),
                               getattr(node.attrs, "variant", "") or "", _epilogue(node),
                               tuple(rows.get(node.id, ())),
                               _step(graph, node, rows), tuple(guests.get(node.id, ())),
                               node.id in outputs)
            for node in graph.nodes()}


def _epilogue(node: Node) -> str:
    """The activation the node's own kernel applies (fuse-activation's work)."""
    if not rule_for(node.op).epilogue or node.attrs.activation == "linear":
        return ""
    return str(node.attrs.activation)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "\u2026"


def box_lines(graph: Graph, f: NodeFacts) -> list[tuple[str, str]]:
    """A box's text, one (css class, text) per line: the first is the node id."""
    node = f.node
    op = node.op.value + (f" \u00b7 {node.layer_kind}" if node.layer_kind else "")
    if node.layer and node.layer != node.id:
        op += f" {node.layer}"
    lines = [("name", node.id), ("op", op)]
    if node.inputs:
        lines.append(("", "in  " + ", ".join(str(graph.type_of(p)) for p in node.inputs)))
    lines.append(("", "out " + ", ".join(str(t) for t in node.types)))
    if f.params:
        weights = "1 weight" if len(node.weights) == 1 else f"{len(node.weights)} weights"
        lines.append(("", f"{f.params:,} params in {weights}"))
    kernel = []
    if f.variant:
        kernel.append(f"variant {f.variant}")
    if f.epilogue:
        kernel.append(f"epilogue {f.epilogue}")
    if kernel:
        lines.append(("kernel", " \u00b7 ".join(kernel)))
    lines.append(("step", f.step))
    lines += [("step", f"also runs %{g}") for g in f.guests]
    if f.output:
        lines.append(("step", "model output"))
    return [(css, _cut(text)) for css, text in lines]


def hover_title(graph: Graph, f: NodeFacts) -> str:
    """Everything about a node, for its box's tooltip and its table row."""
    node = f.node
    lines = [f"%{node.id} = {node.op.value}({', '.join(str(p) for p in node.inputs)})"]
    if node.layer:
        lines.append(f"layer {node.layer} ({node.layer_kind})"
                     + (f" at {node.source}" if node.source else ""))
    attrs = format_attrs(node.attrs)
    if attrs:
        lines.append(attrs)
    for w in node.weights:
        lines.append(f"weight {w}: {'x'.join(map(str, graph.weights[w].shape))}")
    lines.append("out: " + ", ".join(str(t) for t in node.types))
    lines.extend(f"plan: {row}" for row in f.rows)
    return "\n".join(lines)


def box_size(lines: list[tuple[str, str]]) -> tuple[float, float]:
    chars = max(len(text) * (1.1 if css == "name" else 1.0) for css, text in lines)
    return round(chars * CHAR_W + 20), round(len(lines) * LINE_H + 12)


# ----- layout: where the boxes go and how the edges run -----

@dataclass(frozen=True)
class Box:
    x: float  # left
    y: float  # top
    w: float
    h: float


@dataclass(frozen=True)
class Edge:
    source: Port
    target: str
    slot: int  # which input of the target it feeds
    path: str  # SVG path data


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    edges: tuple[Edge, ...]
    width: float
    height: float
    engine: str  # what placed the boxes, in words, for the page


def _links(graph: Graph) -> list[tuple[Port, str, int]]:
    return [(p, node.id, slot) for node in graph.nodes() for slot, p in enumerate(node.inputs)]


def layout(graph: Graph, sizes: dict[str, tuple[float, float]]) -> Layout:
    """Graphviz's dot where installed (it routes edges around boxes);
    otherwise, or if it fails, the layered layout."""
    dot = shutil.which("dot")
    if dot is None:
        return layered_layout(graph, sizes, "layerc's layered layout (graphviz not installed)")
    try:
        return dot_layout(graph, sizes, dot)
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError) as err:
        return layered_layout(graph, sizes, f"layerc's layered layout (graphviz failed: {err})")


def _dot_source(graph: Graph, sizes: dict[str, tuple[float, float]],
                names: dict[str, str]) -> str:
    """Boxes of fixed size (in inches) under short names, so that no node id
    needs quoting; edges without arrowheads end on the boxes' borders."""
    lines = ["digraph g {",
             f"  graph [rankdir=TB, nodesep={GAP_X / 72:.3f}, ranksep={GAP_Y / 72:.3f}];",
             '  node [shape=box, fixedsize=true, label=""];', "  edge [arrowhead=none];"]
    for node_id, (w, h) in sizes.items():
        lines.append(f"  {names[node_id]} [width={w / 72:.4f}, height={h / 72:.4f}];")
    for source, target, _ in _links(graph):
        lines.append(f"  {names[source.node]} -> {names[target]};")
    return "\n".join(lines + ["}"]) + "\n"


def dot_layout(graph: Graph, sizes: dict[str, tuple[float, float]], dot: str) -> Layout:
    names = {node_id: f"n{i}" for i, node_id in enumerate(sizes)}
    run = subprocess.run([dot, "-Tplain"], input=_dot_source(graph, sizes, names),
                         capture_output=True, text=True, timeout=DOT_TIMEOUT_S, check=False)
    if run.returncode != 0:
        raise ValueError(run.stderr.strip().splitlines()[0] if run.stderr.strip()
                         else f"exit status {run.returncode}")
    back = {short: node_id for node_id, short in names.items()}
    height = 0.0
    centres: dict[str, tuple[float, float]] = {}
    splines: dict[tuple[str, str], list[list[tuple[float, float]]]] = {}
    for line in run.stdout.splitlines():
        words = shlex.split(line)
        if words[:1] == ["graph"]:
            height = float(words[3]) * 72
        elif words[:1] == ["node"]:
            centres[back[words[1]]] = (float(words[2]) * 72, height - float(words[3]) * 72)
        elif words[:1] == ["edge"]:
            xy = [float(v) * 72 for v in words[4: 4 + 2 * int(words[3])]]
            points = [(MARGIN + x, MARGIN + height - y) for x, y in zip(xy[::2], xy[1::2])]
            splines.setdefault((back[words[1]], back[words[2]]), []).append(points)
    boxes = {n: Box(MARGIN + cx - sizes[n][0] / 2, MARGIN + cy - sizes[n][1] / 2, *sizes[n])
             for n, (cx, cy) in centres.items()}
    edges = tuple(Edge(p, target, slot, _spline(splines[(p.node, target)].pop(0)))
                  for p, target, slot in _links(graph))
    return _framed(boxes, edges, "graphviz dot")


def _spline(points: list[tuple[float, float]]) -> str:
    """dot's B-spline control points (1 + 3k of them) as SVG cubic curves."""
    (x0, y0), rest = points[0], points[1:]
    curves = [" ".join(f"{x:.1f},{y:.1f}" for x, y in rest[i: i + 3])
              for i in range(0, len(rest), 3)]
    return f"M {x0:.1f},{y0:.1f} " + " ".join(f"C {c}" for c in curves)


def _framed(boxes: dict[str, Box], edges: tuple[Edge, ...], engine: str,
            right: float = 0.0) -> Layout:
    """The layout, as wide as its boxes (or `right`, where edges run) and as tall."""
    width = max([right] + [b.x + b.w for b in boxes.values()]) + MARGIN
    height = max((b.y + b.h for b in boxes.values()), default=0.0) + MARGIN
    return Layout(boxes, edges, width, height, engine)


def layered_layout(graph: Graph, sizes: dict[str, tuple[float, float]],
                   engine: str = "layerc's layered layout") -> Layout:
    """One row per topological generation (every node sits below all its
    producers). An edge that skips rows passes through a waypoint in each
    row between (the long-edge dummies of Sugiyama's method), placed like a
    narrow box, so it runs between the boxes, never across one."""
    rows = _generations(graph)
    rank = {n: r for r, row in enumerate(rows) for n in row}
    order = {node.id: i for i, node in enumerate(graph.nodes())}
    widths = {n: w for n, (w, _) in sizes.items()}
    feeders, routes = _waypoints(graph, rows, rank, order, widths)
    centre = _place(rows, widths, feeders, order)
    heights = [max(sizes[n][1] for n in row if n in sizes) for row in rows]
    tops = [MARGIN + sum(heights[:r]) + GAP_Y * r for r in range(len(rows))]
    boxes = {n: Box(centre[n] - w / 2, tops[rank[n]], w, h) for n, (w, h) in sizes.items()}
    edges = []
    for (p, target, slot), route in routes.items():
        spread = (slot - (len(feeders[target]) - 1) / 2) * 14  # a reader's inputs side by side
        source, reader = boxes[p.node], boxes[target]
        points = [(centre[p.node] + spread, source.y + source.h)]
        for way in route[1:]:
            top = tops[rank[way]]
            points += [(centre[way], top), (centre[way], top + heights[rank[way]])]
        points.append((centre[target] + spread, reader.y))
        edges.append(Edge(p, target, slot, _path(points)))
    return _framed(boxes, tuple(edges), engine, max(centre.values()) + WAYPOINT_W)


def _waypoints(graph: Graph, rows: list[list[str]], rank: dict[str, int],
               order: dict[str, int], widths: dict[str, float]
               ) -> tuple[dict[str, list[str]], dict[tuple[Port, str, int], list[str]]]:
    """Adds a waypoint to each row an edge skips (to `rows`, `rank`, `order`
    and `widths`, after the nodes, so a box keeps its place on a tie).
    Returns what each box or waypoint sits under, and each edge's route:
    its source, then its waypoints."""
    feeders: dict[str, list[str]] = {n: [] for n in widths}
    routes: dict[tuple[Port, str, int], list[str]] = {}
    for p, target, slot in _links(graph):
        route = [p.node]
        for r in range(rank[p.node] + 1, rank[target]):
            way = f"\0{len(order)}"  # no node id starts with NUL
            order[way], rank[way], widths[way], feeders[way] = len(order), r, WAYPOINT_W, route[-1:]
            rows[r].append(way)
            route.append(way)
        feeders[target].append(route[-1])
        routes[(p, target, slot)] = route
    return feeders, routes


def _generations(graph: Graph) -> list[list[str]]:
    import networkx as nx

    return [list(g) for g in nx.topological_generations(graph.nx_graph)]


def _place(rows: list[list[str]], widths: dict[str, float], feeders: dict[str, list[str]],
           order: dict[str, int]) -> dict[str, float]:
    """Each row's centres, top row first: a box (or waypoint) goes under the
    mean of its feeders' centres, pushed right until it clears its left
    neighbour; then everything moves so that the leftmost starts at MARGIN."""
    centre: dict[str, float] = {}
    for row in rows:
        wanted = {n: _mean([centre[f] for f in feeders[n]]) for n in row}
        right = float("-inf")
        for n in sorted(row, key=lambda n: (wanted[n], order[n])):
            centre[n] = max(wanted[n], right + GAP_X + widths[n] / 2)
            right = centre[n] + widths[n] / 2
    shift = MARGIN - min(centre[n] - widths[n] / 2 for n in centre)
    return {n: x + shift for n, x in centre.items()}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _path(points: list[tuple[float, float]]) -> str:
    """Through the points: a curve leaving and entering vertically across
    each gap between rows, a straight line down through each waypoint."""
    (x0, y0), d = points[0], [f"M {points[0][0]:.1f},{points[0][1]:.1f}"]
    for i, (x, y) in enumerate(points[1:]):
        if i % 2:
            d.append(f"L {x:.1f},{y:.1f}")
        else:
            dy = (y - y0) / 2
            d.append(f"C {x0:.1f},{y0 + dy:.1f} {x:.1f},{y - dy:.1f} {x:.1f},{y:.1f}")
        x0, y0 = x, y
    return " ".join(d)


# ----- the memory plan -----

@dataclass(frozen=True)
class Buffer:
    """One arena buffer: a tensor and the views that share it."""

    tensors: tuple[Port, ...]  # the writer's port first
    offset: int  # floats per sample
    size: int  # floats per sample
    start: int  # the step that writes it; -1 for a graph input
    end: int  # the last step that reads it; len(nodes) for a graph output


def buffers(graph: Graph) -> list[Buffer]:
    """The plan's buffers with their lifetimes, as plan-memory reckons them
    (`layerc.ir.memory.buffers`), at the plan's offsets."""
    plan = graph.memory_plan
    if plan is None:
        return []
    return [Buffer(b.tensors, plan.offset(b.root), b.size, b.start, b.end)
            for b in lifetimes(graph)]


def _memory_svg(graph: Graph, plan: MemoryPlan, bufs: list[Buffer]) -> str:
    """Steps run left to right (a column each, plus one before for the
    inputs and one after for the outputs), arena offsets top to bottom."""
    labels = ["(inputs)"] + [n.id for n in graph.nodes()] + ["(outputs)"]
    col = max(30.0, 900.0 / len(labels))
    left, top, plot_h = 84.0, 10.0, 300.0
    bottom = 24.0 + 5.2 * max(len(t) for t in labels)  # rotated step labels
    width, height = left + col * len(labels) + 20, top + plot_h + bottom
    scale = plot_h / max(plan.arena_size, 1)
    parts = [f'<svg class="memory" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
             f'aria-label="arena offset of each buffer over the steps">']
    for i in range(5):  # offset gridlines and ticks
        y = top + plot_h * i / 4
        parts.append(f'<line class="grid" x1="{left:.0f}" y1="{y:.1f}" '
                     f'x2="{width - 20:.0f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6:.0f}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{round(plan.arena_size * i / 4):,}</text>')
    for i, label in enumerate(labels):
        x, y = left + col * (i + 0.5), top + plot_h + 12
        parts.append(f'<text class="axis" x="{x:.1f}" y="{y:.1f}" text-anchor="end" '
                     f'transform="rotate(-45 {x:.1f} {y:.1f})">{_esc(label)}</text>')
    for b in bufs:
        parts.append(_bar(graph, b, left + col * (b.start + 1), col, top, scale))
    parts.append("</svg>")
    return "".join(parts)


def _bar(graph: Graph, b: Buffer, x: float, col: float, top: float, scale: float) -> str:
    writer = graph.node(b.tensors[0].node)
    fam = family(writer.op)
    w, h = col * (b.end - b.start + 1) - 2, max(b.size * scale, 2.0)
    y = top + b.offset * scale
    names = " ".join(str(p) for p in b.tensors)
    title = (f"{names}: {graph.type_of(b.tensors[0])}, {b.size:,} floats per sample at offset "
             f"{b.offset:,}, live from {_when(graph, b.start)} to {_when(graph, b.end)}")
    label = str(b.tensors[0])
    text = ""
    if h >= 14 and len(label) * CHAR_W < w:
        text = f'<text x="{x + 5:.1f}" y="{y + 12:.1f}">{_esc(label)}</text>'
    return (f'<g data-node="{_esc(writer.id)}"><rect class="bar" data-tensors="{_esc(names)}" '
            f'x="{x + 1:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="2" '
            f'fill="{fam.fill}" stroke="{fam.stroke}"><title>{_esc(title)}</title></rect>'
            f'{text}</g>')


def _when(graph: Graph, step: int) -> str:
    nodes = graph.nodes()
    if step < 0:
        return "the start"
    return "the end" if step >= len(nodes) else f"%{nodes[step].id} (step {step})"


# ----- the page -----

def render(model: CompiledModel) -> str:
    """The page for a compiled model (`layerc.compile(...)` or `layerc.load(...)`)."""
    if not isinstance(model, CompiledModel):
        raise ConfigError(f"render takes a CompiledModel of fixed input sizes, got "
                          f"{type(model).__name__}")
    graph = model.graph
    facts = node_facts(model)
    lines = {n: box_lines(graph, f) for n, f in facts.items()}
    lay = layout(graph, {n: box_size(ls) for n, ls in lines.items()})
    body = [_summary(model), _graph_section(graph, facts, lines, lay),
            _nodes_section(graph, facts), _passes_section(model), _memory_section(graph)]
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
            f"<title>{_esc(graph.name)}: layerc</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + f"\n<script>{SCRIPT}</script>\n</body></html>\n")


def _summary(model: CompiledModel) -> str:
    graph = model.graph
    params = sum(w.size for w in graph.weights.values())
    rows = [("target", model.target), ("parameters", f"{params:,}"),
            ("nodes", f"{len(graph)} after {len(model.passes_applied)} passes")]
    rows += [(f"input {name}", str(t)) for name, t in model.input_specs]
    rows += [(f"output {name}", str(t)) for name, t in model.output_specs]
    plan = graph.memory_plan
    if plan is not None:
        rows.append(("arena", f"{plan.arena_size:,} floats per sample planned, against "
                              f"{plan.naive_size:,} with a buffer per tensor; the program "
                              f"uses {model.program.arena_size:,} with kernel scratch"))
    cells = "".join(f"<tr><th>{_esc(k)}</th><td class=\"mono\">{_esc(v)}</td></tr>"
                    for k, v in rows)
    return (f"<header><h1>{_esc(graph.name)}</h1><p class=\"sub\">compiled by layerc: the "
            f"optimized graph, its kernels, the passes and the memory plan</p></header>"
            f"<table class=\"summary\">{cells}</table>")


def _graph_section(graph: Graph, facts: dict[str, NodeFacts],
                   lines: dict[str, list[tuple[str, str]]], lay: Layout) -> str:
    present = [f for f in (*FAMILIES, OTHER) if any(family(x.node.op) is f
                                                     for x in facts.values())]
    legend = "".join(f'<span><span class="swatch" style="background:{f.fill};'
                     f'border-color:{f.stroke}"></span>{_esc(f.name)}</span>' for f in present)
    svg = [f'<svg class="graph" width="{lay.width:.0f}" height="{lay.height:.0f}" '
           f'viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" role="img" '
           f'aria-label="the graph of {_esc(graph.name)}">{ARROW}']
    for e in lay.edges:
        title = f"{e.source} -> %{e.target} (input {e.slot}): {graph.type_of(e.source)}"
        svg.append(f'<path class="edge" d="{e.path}" marker-end="url(#arrow)">'
                   f'<title>{_esc(title)}</title></path>')
    for node_id, box in lay.boxes.items():
        svg.append(_box_svg(graph, facts[node_id], lines[node_id], box))
    svg.append("</svg>")
    return (f'<section id="graph"><h2>Graph after the passes</h2><p class="note">Laid out by '
            f'{_esc(lay.engine)}. Hover a box for all its attributes and plan rows.</p>'
            f'<div class="legend">{legend}</div><div class="scroll centred">{"".join(svg)}</div>'
            f'</section>')


def _box_svg(graph: Graph, f: NodeFacts, lines: list[tuple[str, str]], box: Box) -> str:
    fam = family(f.node.op)
    texts = "".join(
        f'<text class="{css}" x="{box.x + 10:.1f}" y="{box.y + 18 + i * LINE_H:.1f}">'
        f'{_esc(text)}</text>' for i, (css, text) in enumerate(lines))
    output = " output" if f.output else ""
    return (f'<g class="node{output}" data-node="{_esc(f.node.id)}">'
            f'<title>{_esc(hover_title(graph, f))}</title>'
            f'<rect class="box" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" '
            f'height="{box.h:.1f}" rx="6" fill="{fam.fill}" stroke="{fam.stroke}"/>'
            f'{texts}</g>')


def _nodes_section(graph: Graph, facts: dict[str, NodeFacts]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("node", "op", "layer", "inputs", "outputs",
                                             "params", "variant", "epilogue", "step", "attrs"))
    rows = []
    for f in facts.values():
        node = f.node
        cells = ("%" + node.id, node.op.value, f"{node.layer} ({node.layer_kind})"
                 if node.layer else "", ", ".join(str(graph.type_of(p)) for p in node.inputs),
                 ", ".join(str(t) for t in node.types), f"{f.params:,}" if f.params else "",
                 f.variant, f.epilogue, f.how, format_attrs(node.attrs))
        tds = "".join(f'<td class="mono">{_esc(c)}</td>' for c in cells)
        rows.append(f'<tr data-node="{_esc(node.id)}" title="{_esc(hover_title(graph, f))}">'
                    f'{tds}</tr>')
    return (f'<section id="nodes"><h2>Nodes</h2><div class="scroll"><table><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div></section>')


def _passes_section(model: CompiledModel) -> str:
    changes = dict(model.pass_changes)
    rows = []
    for name, count in model.passes_applied:
        items = "".join(f"<li>{_esc(c)}</li>" for c in changes.get(name, ()))
        quiet = "" if count else ' class="quiet"'
        rows.append(f'<tr{quiet}><td class="mono">{_esc(name)}</td><td>{count}</td>'
                    f'<td><ul class="changes">{items}</ul></td></tr>')
    if not rows:
        return '<section id="passes"><h2>Passes</h2><p class="note">No passes recorded.</p>' \
               '</section>'
    return ('<section id="passes"><h2>Passes</h2><p class="note">In the order they ran, with '
            'their rewrite counts and what each changed (and notes on rewrites that did not '
            'fire).</p><table><thead><tr><th>pass</th><th>rewrites</th><th>what changed</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></section>')


def _memory_section(graph: Graph) -> str:
    plan = graph.memory_plan
    if plan is None:
        return '<section id="memory"><h2>Memory plan</h2><p class="note">This graph has no ' \
               'memory plan.</p></section>'
    bufs = buffers(graph)
    rows = "".join(
        f'<tr data-node="{_esc(b.tensors[0].node)}"><td class="mono">'
        f'{_esc(" ".join(map(str, b.tensors)))}</td><td>{b.offset:,}</td><td>{b.size:,}</td>'
        f'<td class="mono">{_esc(_when(graph, b.start))} to {_esc(_when(graph, b.end))}</td>'
        f'</tr>' for b in sorted(bufs, key=lambda b: (b.offset, b.start)))
    return (f'<section id="memory"><h2>Memory plan</h2><p class="note">One bar per arena '
            f'buffer (a view shares its source\'s): its offset and size in floats per sample '
            f'(a batch of B scales both by B) over the steps it lives through. '
            f'{len(bufs)} buffers in {plan.arena_size:,} floats per sample, against '
            f'{plan.naive_size:,} with a buffer per tensor.</p>'
            f'<div class="scroll">{_memory_svg(graph, plan, bufs)}</div>'
            f'<table><thead><tr><th>tensors</th><th>offset</th><th>size</th><th>lives</th>'
            f'</tr></thead><tbody>{rows}</tbody></table></section>')


ARROW = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
         'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/>'
         '</marker></defs>')

CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color: var(--ink); margin: 0 auto; max-width: 1280px;
       padding: 24px; background: #ffffff; }
h1 { font-size: 24px; margin: 0; }
h2 { font-size: 17px; margin: 32px 0 8px; padding-bottom: 4px;
     border-bottom: 1px solid var(--line); }
.sub, .note { color: var(--muted); margin: 4px 0 10px; }
.mono, svg text { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
                  font-size: 12px; }
table { border-collapse: collapse; }
th, td { text-align: left; vertical-align: top; padding: 4px 10px;
         border-bottom: 1px solid #eef1f4; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
table.summary th { white-space: nowrap; }
tr.quiet td { color: var(--muted); }
tr.hl td { background: #fff8c5; }
ul.changes { margin: 0; padding-left: 18px; font-family: ui-monospace, "DejaVu Sans Mono",
             Menlo, Consolas, monospace; font-size: 12px; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px;
          padding: 8px; background: #fcfcfd; margin-bottom: 12px; }
.centred { text-align: center; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 6px 0 10px; font-size: 13px; }
.swatch { display: inline-block; width: 12px; height: 12px; border: 2px solid;
          border-radius: 3px; vertical-align: -3px; margin-right: 5px; }
svg text { fill: var(--ink); }
svg text.name { font-weight: 700; font-size: 13px; }
svg text.op { fill: var(--muted); }
svg text.kernel { fill: #9a3412; }
svg text.step { fill: var(--muted); font-style: italic; }
svg text.axis { fill: var(--muted); font-size: 11px; }
.edge { fill: none; stroke: #8c959f; stroke-width: 1.5; }
.box { stroke-width: 1.5; }
.node.output .box { stroke-width: 3; }
.grid { stroke: #eef1f4; }
.bar { stroke-width: 1; }
.hl .box, .hl .bar { stroke-width: 3.5; }
"""

# Hovering a node lights it up everywhere: its box, its table row, its buffer.
SCRIPT = """
document.querySelectorAll("[data-node]").forEach(function (el) {
  var same = document.querySelectorAll('[data-node="' + CSS.escape(el.dataset.node) + '"]');
  el.addEventListener("mouseenter", function () {
    same.forEach(function (s) { s.classList.add("hl"); });
  });
  el.addEventListener("mouseleave", function () {
    same.forEach(function (s) { s.classList.remove("hl"); });
  });
});
"""
