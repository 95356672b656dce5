"""fold-padding: a zero padding before a convolution becomes the
convolution's own pads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from layerc.ir import Graph, Node, OpKind
from layerc.ir.ops.spatial import effective, window_output
from layerc.passes.base import Pass, PassResult, rewrite_each


@dataclass(frozen=True)
class FoldPadding(Pass):
    """Folds pad(x) -> conv into conv(x) with padding 'explicit': the zeros
    the padding adds on each side of each spatial axis are added to the
    convolution's pads (its valid / same / causal ones, computed on the
    padded input), so no padded copy is made. Requires: the padding's only
    reader is a convolution's input (nor is it a graph output), it pads no
    channel axis, the spatial sizes are known, and each side's pads stay
    below the dilated kernel's span (every window then sees the input, as
    with 'same'). Not into pooling: a max pooling ignores padded cells where
    zero padding makes 0 a candidate, and an average divides by the in-bounds
    cells, so neither is the same computation."""

    name = "fold-padding"

    def run(self, graph: Graph) -> PassResult:
        return rewrite_each(graph, OpKind.PAD, self.check, self._fold, "folded")

    @staticmethod
    def check(g: Graph, node: Node) -> str:
        """Why `node` cannot fold into its reader, or '' when it can."""
        readers = g.users(node.id)
        if len(readers) != 1 or g.use_count(node.port()) != 1:
            return "it has no single reader"
        conv = readers[0]
        if conv.op is not OpKind.CONV or conv.inputs[0] != node.port():
            return f"its reader %{conv.id} is {conv.op.value}, not a convolution's input"
        pads = _combined(g, node, conv)
        if isinstance(pads, str):
            return pads
        spans = [effective(k, d) for k, d in zip(conv.attrs.kernel, conv.attrs.dilation)]
        if any(max(p) >= span for p, span in zip(pads, spans)):
            return (f"the pads {pads} would reach past %{conv.id}'s kernel span "
                    f"{tuple(spans)}")
        return ""

    @staticmethod
    def _fold(g: Graph, node: Node) -> None:
        conv = g.users(node.id)[0]
        pads = _combined(g, node, conv)
        attrs = dataclasses.replace(conv.attrs, padding="explicit", pads=pads)
        g.replace(conv.id, conv.op, attrs, inputs=(node.inputs[0], *conv.inputs[1:]))
        g.remove(node.id)


def _combined(g: Graph, pad: Node, conv: Node) -> tuple[tuple[int, int], ...] | str:
    """The convolution's pads with the padding's zeros added, or why not."""
    a = conv.attrs
    x = g.type_of(pad.inputs[0])
    first = a.data_format == "channels_first"
    spatial = pad.attrs.pads[1:] if first else pad.attrs.pads[:-1]
    channel = pad.attrs.pads[0] if first else pad.attrs.pads[-1]
    if channel != (0, 0):
        return f"it pads the channel axis by {channel}"
    if None in x.sample_shape:
        return "a spatial size is unknown"
    _, own, _ = window_output(pad.type, a.data_format, a.kernel, a.strides, a.dilation,
                              a.padding, "kernel", explicit=a.pads)
    return tuple((lo + c_lo, hi + c_hi) for (lo, hi), (c_lo, c_hi) in zip(spatial, own))
