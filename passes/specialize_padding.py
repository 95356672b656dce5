"""specialize-padding: explicit pads and a kernel variant for every window op.

Convolution and pooling nodes get `pads` (before, after per spatial axis, from
the 'valid' / 'same' / 'causal' rule) and convolutions a `variant`:
'gemm' for a 1x1, stride-1, unpadded convolution (a plain matrix product, no
patch copy); 'direct' for a channels-last convolution whose window holds at
most DIRECT_MAX_TAPS values (kernel size times input channels, as in a first
layer over a grey or RGB image: copying patches for a GEMM with so short a
reduction costs more than the arithmetic); else 'im2col' (patches copied in
contiguous runs, then one GEMM). Backends read these attributes instead of
re-deriving them; a backend may run every variant the same way.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from layerc.ir import Graph, Node, OpKind
from layerc.ir.ops.spatial import split, window_output
from layerc.passes.base import Pass, PassResult


DIRECT_MAX_TAPS = 32


def conv_variant(node: Node, channels: int, pads: tuple[tuple[int, int], ...]) -> str:
    a = node.attrs
    pointwise = all(k == 1 for k in a.kernel) and all(s == 1 for s in a.strides)
    if pointwise and all(p == (0, 0) for p in pads):
        return "gemm"
    taps = math.prod(a.kernel) * channels
    if a.data_format == "channels_last" and taps <= DIRECT_MAX_TAPS:
        return "direct"
    return "im2col"


@dataclass(frozen=True)
class SpecializePadding(Pass):
    """Fills `pads` (and `variant`) of conv and pool nodes.
    Requires: known spatial sizes (always true of a verified graph)."""

    name = "specialize-padding"

    def run(self, graph: Graph) -> PassResult:
        g = graph.copy()
        count = 0
        for node in g.nodes():
            if node.op not in (OpKind.CONV, OpKind.POOL):
                continue
            a = node.attrs
            kernel = a.kernel if node.op is OpKind.CONV else a.pool
            dilation = a.dilation if node.op is OpKind.CONV else (1,) * len(kernel)
            _, pads, _ = window_output(g.type_of(node.inputs[0]), a.data_format, kernel,
                                       a.strides, dilation, a.padding, "window")
            changes: dict[str, object] = {"pads": pads}
            if node.op is OpKind.CONV:
                _, channels = split(g.type_of(node.inputs[0]), a.data_format, len(kernel))
                changes["variant"] = conv_variant(node, channels, pads)
            attrs = dataclasses.replace(a, **changes)
            if attrs != a:
                g.replace(node.id, node.op, attrs)
                count += 1
        return PassResult(g, count)
