"""specialize-padding: explicit pads and a kernel variant for every window op.

Every op whose rule declares a window and whose attrs have `pads` (convolution
and pooling) gets them: (before, after) per spatial axis, from the 'valid' /
'same' / 'causal' rule. Attrs that also have `variant` (convolution) get one:
'gemm' for a 1x1, stride-1, unpadded convolution (a plain matrix product, no
patch copy); 'direct' for a channels-last convolution whose window holds at
most DIRECT_MAX_TAPS values (kernel size times input channels, as in a first
layer over a grey or RGB image: copying patches for a GEMM with so short a
reduction costs more than the arithmetic); 'winograd' for a channels-last
3x3, stride-1, undilated 2-D convolution with at least
WINOGRAD_MIN_CHANNELS input channels and filters (F(2x2, 3x3): 2.25x fewer
multiplications, for additions on tiles); else 'im2col' (patches copied in
contiguous runs, then one GEMM); 'grouped' for a convolution of several
groups (a depthwise one: a direct kernel of its own). Backends read these attributes instead of
re-deriving them; a backend may run every variant the same way.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from layerc.ir import Graph, rule_for
from layerc.ir.ops.spatial import split, window_pads
from layerc.ir.registry import Window
from layerc.passes.base import Pass, PassResult, rewriting

DIRECT_MAX_TAPS = 32
# Winograd's transforms pay for themselves from this many input channels and
# filters on (README.md, "How it runs": 16 -> 16 ran 1.8x slower than the GEMM).
WINOGRAD_MIN_CHANNELS = 32


def conv_variant(window: Window, data_format: str, channels: int, filters: int,
                 pads: tuple[tuple[int, int], ...], groups: int = 1) -> str:
    if groups > 1:
        return "grouped"
    pointwise = all(k == 1 for k in window.kernel) and all(s == 1 for s in window.strides)
    if pointwise and all(p == (0, 0) for p in pads):
        return "gemm"
    if data_format != "channels_last":
        return "im2col"
    taps = math.prod(window.kernel) * channels
    if taps <= DIRECT_MAX_TAPS:
        return "direct"
    unit = all(s == 1 for s in window.strides) and all(d == 1 for d in window.dilation)
    if (window.kernel == (3, 3) and unit and channels >= WINOGRAD_MIN_CHANNELS
            and filters >= WINOGRAD_MIN_CHANNELS):
        return "winograd"
    return "im2col"


def _has(attrs: object, name: str) -> bool:
    return any(f.name == name for f in dataclasses.fields(attrs))  # type: ignore[arg-type]


@dataclass(frozen=True)
class SpecializePadding(Pass):
    """Fills `pads` (and `variant`) of window ops.
    Requires: known spatial sizes (always true of a verified graph)."""

    name = "specialize-padding"

    def run(self, graph: Graph) -> PassResult:
        g = graph.copy()
        count = 0
        for node in g.nodes():
            window = rule_for(node.op).window
            if window is None or not _has(node.attrs, "pads"):
                continue
            with rewriting(node):
                a = node.attrs
                x = g.type_of(node.inputs[0])
                w = window(a)
                pads = window_pads(x, a.data_format, w)
                changes: dict[str, object] = {"pads": pads}
                if _has(a, "variant"):
                    _, channels = split(x, a.data_format, len(w.kernel))
                    changes["variant"] = conv_variant(w, a.data_format, channels, a.filters,
                                                      pads, a.groups)
                attrs = dataclasses.replace(a, **changes)
                if attrs != a:
                    g.replace(node.id, node.op, attrs)
                    count += 1
        return PassResult(g, count)
