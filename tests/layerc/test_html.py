"""layerc.html: the page of a compiled model, in Python, from the CLI and in a
real headless browser where one is installed."""

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from html import escape
from html.parser import HTMLParser
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

import layerc
import layerc.html
from layerc.ir import rule_for
from layerc.layers import Add, Concatenate, Dense
from layerc.model_file import load_model_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("mlp", "mnist_convnet", "text_cnn", "lstm_classifier")
_compiled: dict[str, layerc.CompiledModel] = {}


def compiled(example: str) -> layerc.CompiledModel:
    """Each example compiled once for the whole file."""
    if example not in _compiled:
        _compiled[example] = layerc.compile(load_model_file(str(ROOT / "examples" /
                                                                f"{example}.py")))
    return _compiled[example]


def branchy() -> layerc.CompiledModel:
    """Two branches, a merge and an edge that skips two rows."""
    x = layerc.Input((8,), name="x")
    a = Dense(6, name="left")(x)
    b = Dense(6, activation="relu", name="right")(x)
    c = Dense(6, name="deeper")(Dense(6, name="deep")(b))
    out = Concatenate(name="join")([Add(name="sum")([a, c]), x])
    return layerc.compile(layerc.Model(x, out, name="branchy"))


def svgs(page: str) -> dict[str, ET.Element]:
    """The page's SVG drawings by class, parsed as XML."""
    found = re.findall(r'<svg class="(\w+)".*?</svg>', page, re.S)
    blocks = re.findall(r"<svg .*?</svg>", page, re.S)
    return dict(zip(found, map(ET.fromstring, blocks)))


def boxes(page: str) -> dict[str, tuple[float, float, float, float]]:
    """node id -> its box (left, top, right, bottom) in the graph drawing."""
    out = {}
    for g in svgs(page)["graph"].iter("g"):
        rect = g.find("rect")
        x, y, w, h = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
        out[g.get("data-node")] = (x, y, x + w, y + h)
    return out


def apart(a, b) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


class Balance(HTMLParser):
    """Every element closed, in order (void elements excepted)."""

    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()


def assert_well_formed(page: str) -> None:
    parser = Balance()
    parser.feed(page)
    parser.close()
    assert parser.open == []
    assert page.startswith("<!DOCTYPE html>\n")
    ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))  # XHTML-strict, SVG included


@pytest.mark.parametrize("example", EXAMPLES)
def test_page_shows_every_node_pass_and_buffer(example):
    model = compiled(example)
    graph = model.graph
    page = layerc.html.render(model)
    assert_well_formed(page)
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?[a-z]*:?//""", page)
    drawn = boxes(page)
    assert set(drawn) == {node.id for node in graph.nodes()}
    for node in graph.nodes():
        assert f"%{node.id}" in page and f">{node.op.value}</td>" in page
        for t in node.types + graph.input_types(node):
            assert str(t) in page
    for name, rewrites in model.passes_applied:
        assert f'<td class="mono">{name}</td><td>{rewrites}</td>' in page
    for _, changes in model.pass_changes:
        for change in changes:
            assert f"<li>{escape(change)}</li>" in page
    bars = list(svgs(page)["memory"].iter("rect"))
    plan = graph.memory_plan
    owners = {p for p, _ in plan.offsets if not rule_for(graph.node(p.node).op).is_view}
    assert sorted(b.get("data-tensors").split()[0] for b in bars) == sorted(map(str, owners))
    listed = [t for b in bars for t in b.get("data-tensors").split()]
    assert sorted(listed) == sorted(str(p) for p, _ in plan.offsets)  # views in their source's
    tops = {b.get("data-tensors").split()[0]: float(b.get("y")) for b in bars}
    by_offset = sorted(owners, key=plan.offset)
    assert [tops[str(p)] for p in by_offset] == sorted(tops.values())


def _mnist_ids(model):
    """The MNIST convnet's node ids in order (input, conv, pool, conv, pool,
    flatten, dense): layer names carry process-wide counters, so they depend
    on what ran before."""
    ids = [node.id for node in model.graph.nodes()]
    assert [model.graph.node(i).op.value for i in ids] == \
        ["input", "conv", "pool", "conv", "pool", "view", "dense"]
    return ids


def test_kernel_variant_epilogue_and_steps_run_in_a_producer():
    model = compiled("mnist_convnet")
    _, conv, pool, _, pool_1, _, _ = _mnist_ids(model)
    page = layerc.html.render(model)
    assert "variant direct \u00b7 epilogue relu" in page  # the first conv's box
    assert "variant winograd \u00b7 epilogue relu" in page
    assert f"step: conv, also runs %{pool}" in page  # the CPU's conv + max pooling
    assert f"runs in %{conv}&#x27;s step" in page
    assert f"view of %{pool_1}: no copy" in page  # the flatten
    assert "epilogue softmax" in page


def test_buffer_lifetimes_follow_plan_memory():
    """Buffers live while plan-memory says (the input through the pooling that
    runs in its convolution's step), and no two that live at once overlap."""
    model = compiled("mnist_convnet")
    x, conv, _, _, pool_1, flatten, dense = _mnist_ids(model)
    bufs = layerc.html.buffers(model.graph)
    life = {str(b.tensors[0]): (b.start, b.end) for b in bufs}
    assert life[f"%{x}"] == (-1, 2) and life[f"%{conv}"] == (1, 2)
    assert life[f"%{dense}"] == (6, 7)  # an output lives to the end
    assert [str(p) for b in bufs for p in b.tensors if len(b.tensors) > 1] == \
        [f"%{pool_1}", f"%{flatten}"]
    for a, b in combinations(bufs, 2):
        if a.start <= b.end and b.start <= a.end:
            assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset


def along(d: str) -> list[tuple[float, float]]:
    """Points along an SVG path of M, L and C commands (absolute), 20 per segment."""
    at, points = (0.0, 0.0), []
    for op, args in re.findall(r"([MLC])([^MLC]*)", d):
        xy = [tuple(map(float, pair.split(","))) for pair in args.split()]
        if op == "C":
            (x0, y0), (x1, y1), (x2, y2), (x3, y3) = at, *xy
            for t in np.linspace(0, 1, 21):
                u = 1 - t
                points.append((u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
                               u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3))
        elif op == "L":
            points += [(at[0] + (xy[0][0] - at[0]) * t, at[1] + (xy[0][1] - at[1]) * t)
                       for t in np.linspace(0, 1, 21)]
        at = xy[-1]
    return points


def test_layered_layout_without_graphviz(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    model = branchy()
    page = layerc.html.render(model)
    assert_well_formed(page)
    assert "layerc&#x27;s layered layout (graphviz not installed)" in page
    drawn = boxes(page)
    assert all(apart(a, b) for a, b in combinations(drawn.values(), 2))
    for node in model.graph.nodes():
        for p in node.inputs:  # a reader sits below its producers
            assert drawn[node.id][1] > drawn[p.node][3]
    edges = [e.get("d") for e in svgs(page)["graph"].iter("path") if e.get("class") == "edge"]
    assert len(edges) == sum(len(node.inputs) for node in model.graph.nodes())
    for x, y in (pt for d in edges for pt in along(d)):  # edges run between boxes
        assert not any(x0 + 1 < x < x1 - 1 and y0 + 1 < y < y1 - 1
                       for x0, y0, x1, y1 in drawn.values())


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz (dot) not installed")
def test_graphviz_layout_where_installed():
    page = layerc.html.render(branchy())
    assert "Laid out by graphviz dot." in page
    drawn = boxes(page)
    assert all(apart(a, b) for a, b in combinations(drawn.values(), 2))


def test_a_failing_graphviz_falls_back(monkeypatch, tmp_path):
    dot = tmp_path / "dot"
    dot.write_text("#!/bin/sh\necho 'dot: broken' >&2\nexit 3\n")
    dot.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda name: str(dot))
    page = layerc.html.render(compiled("mlp"))
    assert "layered layout (graphviz failed: dot: broken)" in page


def test_a_model_of_unknown_sizes_is_refused():
    x = layerc.Input((None, 4))
    varying = layerc.compile(layerc.Model(x, Dense(2)(x)))
    with pytest.raises(layerc.ConfigError, match="fixed input sizes"):
        layerc.html.render(varying)


def layerc_cli(*args):
    return subprocess.run([sys.executable, "-m", "layerc", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_cli_inspect_html_on_an_artifact(tmp_path):
    artifact, out = tmp_path / "x.lcz", tmp_path / "out.html"
    compiled("text_cnn").save(artifact)
    run = layerc_cli("inspect", str(artifact), "--html", str(out))
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{out}\n"
    page = out.read_text()
    assert_well_formed(page)
    for node in compiled("text_cnn").graph.nodes():
        assert f'data-node="{node.id}"' in page
    run = layerc_cli("inspect", str(artifact), "--html", str(tmp_path / "no" / "o.html"))
    assert run.returncode == 1 and run.stderr.startswith("layerc: error: cannot write")


def chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


def png(path: Path) -> tuple[int, int, bytes]:
    """A PNG's width, height and inflated (still filtered) pixel rows."""
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    idat, at = b"", 8
    while at < len(data):
        size, kind = int.from_bytes(data[at: at + 4], "big"), data[at + 4: at + 8]
        idat += data[at + 8: at + 8 + size] if kind == b"IDAT" else b""
        at += 12 + size
    return width, height, zlib.decompress(idat)


@pytest.mark.skipif(chromium() is None, reason="chromium not installed: the page's browser "
                    "test needs a headless chromium (Debian: apt-get install chromium)")
def test_a_headless_browser_draws_every_node(tmp_path):
    model = compiled("mnist_convnet")
    page = tmp_path / "model.html"
    page.write_text(layerc.html.render(model))
    browser = [chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
               "--disable-dev-shm-usage", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600"]
    shot = tmp_path / "shot.png"
    run = subprocess.run(browser + [f"--screenshot={shot}", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert shot.is_file(), run.stderr
    width, height, pixels = png(shot)
    assert (width, height) == (1280, 1600)
    assert len(np.unique(np.frombuffer(pixels, np.uint8))) > 64  # drawn, not a blank page
    run = subprocess.run(browser + ["--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120)
    texts = set(re.findall(r"<text[^>]*>([^<]*)</text>", run.stdout))
    assert {node.id for node in model.graph.nodes()} <= texts, run.stderr
