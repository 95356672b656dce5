"""The `functional_graphs` strategy: functional Models with several inputs,
merges, concatenations, shared layers and several outputs (`_GraphDraw` holds
the state of one draw)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc.layers import (AdditiveAttention, Add, Attention, Average, Concatenate, Dot,
                           GroupedQueryAttention, Input, Maximum, Minimum, Multiply,
                           MultiHeadAttention, Reshape, Subtract)
from layerc.layers.base import Layer, SymbolicTensor
from layerc.models import Model
from layerc.testing._package import package
from layerc.testing.limits import MAX_SIDE
from layerc.testing.makers.base import LayerMaker, dense_layer, draw_layer
from layerc.testing.probes import MAX_MAGNITUDE, MAX_SENSITIVITY, _assume_well_conditioned
from layerc.testing.shapes import _sample_shape, input_shapes

ELEMENTWISE_MERGES: tuple[type[Layer], ...] = (Add, Subtract, Multiply, Average, Maximum,
                                               Minimum)


class _GraphDraw:
    """The state of one functional_graphs draw: the tensors built so far and
    which of them some layer reads."""

    def __init__(self, draw: DrawFn, makers: Mapping[str, LayerMaker]) -> None:
        self.draw = draw
        self.makers = makers
        self.pool: list[SymbolicTensor] = []
        self.read: set[int] = set()

    def call(self, layer: Layer, inputs: SymbolicTensor | list[SymbolicTensor]
             ) -> SymbolicTensor:
        out = layer(inputs)
        assert isinstance(out, SymbolicTensor)
        for t in inputs if isinstance(inputs, list) else [inputs]:
            self.read.add(id(t))
        self.pool.append(out)
        return out

    def pick(self) -> SymbolicTensor:
        return self.draw(st.sampled_from(self.pool))

    def chain(self) -> None:
        t = self.pick()
        for _ in range(self.draw(st.integers(1, 3))):
            t = self.call(draw_layer(self.draw, self.makers, _sample_shape(t)), t)

    def like(self, t: SymbolicTensor) -> SymbolicTensor:
        """A tensor of t's shape: t itself, another of its shape, or one adapted
        from a pool tensor by a Dense (same leading axes) or a Reshape (same size)."""
        sources = [u for u in self.pool if u.shape[:-1] == t.shape[:-1]
                   or math.prod(_sample_shape(u)) == math.prod(_sample_shape(t))]
        u = self.draw(st.sampled_from(sources))
        if u.shape == t.shape and self.draw(st.booleans()):
            return u
        if u.shape[:-1] == t.shape[:-1]:
            return self.call(dense_layer(self.draw, units=t.shape[-1]), u)
        return self.call(Reshape(_sample_shape(t)), u)

    def merge(self) -> None:
        cls = self.draw(st.sampled_from(ELEMENTWISE_MERGES))
        first = self.pick()
        arity = 2 if cls is Subtract else self.draw(st.integers(2, 3))
        self.call(cls(), [first] + [self.like(first) for _ in range(arity - 1)])

    def joinable(self, t: SymbolicTensor, axis: int) -> SymbolicTensor:
        """A tensor that differs from t at most on `axis`: one from the pool, a
        Dense of one (last axis), or a Reshape of one whose size fits."""
        rest = math.prod(_sample_shape(t)) // t.shape[axis]  # type: ignore[operator]
        same = [u for u in self.pool if len(u.shape) == len(t.shape) and all(
            u.shape[i] == t.shape[i] for i in range(len(t.shape)) if i != axis)]
        fits = [u for u in self.pool if math.prod(_sample_shape(u)) % rest == 0]
        how = self.draw(st.sampled_from(("pool", "reshape", "dense")))
        if how == "reshape":
            u = self.draw(st.sampled_from(fits))
            shape = list(t.shape[1:])
            shape[axis - 1] = math.prod(_sample_shape(u)) // rest
            return self.call(Reshape(tuple(shape)), u)  # type: ignore[arg-type]
        u = self.draw(st.sampled_from(same))
        if how == "dense" and axis == len(t.shape) - 1:
            return self.call(dense_layer(self.draw), u)
        return u

    def concatenate(self) -> None:
        first = self.pick()
        rank = len(first.shape)
        axis = self.draw(st.integers(1, rank - 1))
        others = [self.joinable(first, axis) for _ in range(self.draw(st.integers(1, 2)))]
        spelled = self.draw(st.sampled_from((axis, axis - rank)))
        self.call(Concatenate(axis=spelled), [first, *others])

    def dot(self) -> None:
        """Keras's Dot of two tensors over an axis of each (a Dense gives the
        second a last axis of the first's size), sometimes normalized; the
        output keeps both inputs' other axes, so only small ranks pair."""
        small = [u for u in self.pool if len(u.shape) <= 3]
        if not small:
            return self.merge()
        first = self.draw(st.sampled_from(small))
        rank = len(first.shape)
        axis = self.draw(st.integers(1, rank - 1))
        second = self.draw(st.sampled_from(
            [u for u in self.pool if rank + len(u.shape) <= 6]))
        if second.shape[-1] != first.shape[axis]:
            second = self.call(dense_layer(self.draw, units=first.shape[axis]), second)
        axes = (self.draw(st.sampled_from((axis, axis - rank))), -1)
        self.call(Dot(axes=axes, normalize=self.draw(st.booleans())), [first, second])

    def attention(self) -> None:
        """An attention layer over sequences: MultiHeadAttention or
        GroupedQueryAttention (1-4 heads of 1-4 dims, maybe causal) of a
        sequence over itself or another (self- or cross-attention), or
        Attention / AdditiveAttention of a query over a value of its
        features."""
        sequences = [u for u in self.pool if len(u.shape) == 3]
        if not sequences:
            return self.merge()
        query = self.draw(st.sampled_from(sequences))
        value = self.draw(st.sampled_from(sequences))
        causal = self.draw(st.booleans())
        kind = self.draw(st.sampled_from(["multi_head", "grouped", "luong", "bahdanau"]))
        if kind in ("grouped", "luong", "bahdanau") and value.shape[-1] != query.shape[-1]:
            value = self.call(dense_layer(self.draw, units=query.shape[-1]), value)
        if kind == "multi_head":
            out = MultiHeadAttention(self.draw(st.integers(1, 3)), self.draw(st.integers(1, 4)))(
                query, value, use_causal_mask=causal)
        elif kind == "grouped":
            kv = self.draw(st.integers(1, 2))
            out = GroupedQueryAttention(self.draw(st.integers(1, 4)),
                                        kv * self.draw(st.integers(1, 2)), kv)(
                query, value, use_causal_mask=causal)
        else:
            layer = Attention(score_mode=self.draw(st.sampled_from(["dot", "concat"])),
                              use_scale=self.draw(st.booleans())) if kind == "luong" \
                else AdditiveAttention(use_scale=self.draw(st.booleans()))
            out = layer([query, value], use_causal_mask=causal)
        self.read.update((id(query), id(value)))
        self.pool.append(out)

    def shared(self) -> None:
        """One Dense called on two tensors (maybe the same one) with one last axis."""
        first = self.pick()
        second = self.draw(st.sampled_from(
            [u for u in self.pool if u.shape[-1] == first.shape[-1]]))
        layer = dense_layer(self.draw)
        self.call(layer, first)
        self.call(layer, second)


@st.composite
def functional_graphs(draw: DrawFn, makers: Mapping[str, LayerMaker] | None = None,
                      max_inputs: int = 3, max_steps: int = 6, max_outputs: int = 3,
                      max_magnitude: float | None = MAX_MAGNITUDE,
                      max_sensitivity: float | None = MAX_SENSITIVITY) -> Model:
    """A functional Model: 1..max_inputs Inputs (often of one shape, so they
    merge), then 1..max_steps steps, each a chain of 1-3 layers from `makers`,
    an element-wise merge, a Concatenate, a Dot, a MultiHeadAttention, or a
    Dense shared by two calls. The
    outputs are the tensors no layer reads (at most max_outputs of them, so a
    few branches may be dead code), sometimes with one more that a layer reads."""
    g = _GraphDraw(draw, package().LAYER_MAKERS if makers is None else makers)
    base = draw(input_shapes())
    inputs = []
    for _ in range(draw(st.integers(1, max_inputs))):
        kind = draw(st.sampled_from(("same", "last-axis", "other")))
        shape = base if kind == "same" else draw(input_shapes()) if kind == "other" else (
            *base[:-1], draw(st.integers(1, MAX_SIDE)))
        inputs.append(Input(shape))
    g.pool = list(inputs)
    steps = {"chain": g.chain, "merge": g.merge, "concatenate": g.concatenate,
             "dot": g.dot, "attention": g.attention, "shared": g.shared}
    for _ in range(draw(st.integers(1, max_steps))):
        steps[draw(st.sampled_from(sorted(steps)))]()
    built = g.pool[len(inputs):]
    leaves = [t for t in built if id(t) not in g.read]
    outputs = draw(st.permutations(leaves))[:max_outputs]
    inner = [t for t in built if id(t) in g.read]
    if len(inner) > 0 and draw(st.booleans()):
        outputs.append(draw(st.sampled_from(inner)))
    model = Model(inputs if len(inputs) > 1 else inputs[0],
                  outputs if len(outputs) > 1 else outputs[0])
    _assume_well_conditioned(model, max_magnitude, max_sensitivity)
    return model
