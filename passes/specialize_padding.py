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

from dataclasses import dataclass

from layerc.ir import Graph
from layerc.ir.ops.conv import DIRECT_MAX_TAPS, WINOGRAD_MIN_CHANNELS, conv_variant
from layerc.ir.specialize import specialized_window
from layerc.passes.base import Pass, PassResult, rewriting

# The rule lives with the convolution's (ir/ops/conv.py): loading an artifact
# derives the same variants to check the ones it holds.
__all__ = ["DIRECT_MAX_TAPS", "WINOGRAD_MIN_CHANNELS", "SpecializePadding", "conv_variant"]


@dataclass(frozen=True)
class SpecializePadding(Pass):
    """Fills `pads` (and `variant`) of window ops (`ir.specialize.specialized_window`).
    Requires: known spatial sizes (always true of a verified graph)."""

    name = "specialize-padding"

    def run(self, graph: Graph) -> PassResult:
        g = graph.copy()
        count = 0
        for node in g.nodes():
            with rewriting(node):
                attrs = specialized_window(node, g.type_of(node.inputs[0])) \
                    if node.inputs else node.attrs
                if attrs != node.attrs:
                    g.replace(node.id, node.op, attrs)
                    count += 1
        return PassResult(g, count)
