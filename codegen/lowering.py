"""The target-independent half of every lowering, written once.

The operands an op's kernels take are derived from its IR node here (shapes,
pads, strides, arena offsets, weight offsets, state slots), under the field
names every target's kernels declare. An op that lowers the same way on every
target gets its whole lowering here (`@shared`: steps that name the kernels);
the backends register their own lowerings (`codegen/<target>/ops/`) only
where they choose kernels, pack weights or add epilogues, and call the
operand functions below. The window ops' half (convolution, pooling,
locally connected) is codegen/windows.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from layerc.codegen.base import BaseEmitter, Operands, Steps, shared
from layerc.codegen.codes import ACTIVATIONS, BINOPS, CELLS, INITS
from layerc.ir import Node, OpKind, TargetError, rule_for
from layerc.ir.ops.activation import prelu_alpha_shape, softmax_block
from layerc.ir.ops.attention import sizes as attention_sizes
from layerc.ir.ops.merge import dot_sizes
from layerc.ir.ops.normalization import (NORM_MODES, group_block, norm_block, normalize_vectors,
                                         rescale_vectors, scale_and_shift)
from layerc.ir.ops.recurrent import state_count
from layerc.ir.ops.resize import tables as resize_tables
from layerc.ir.ops.spatial import split

Pack = Callable[[np.ndarray], np.ndarray]  # a weight into the layout its kernel reads


def act(name: str) -> int:
    """An activation's code."""
    return ACTIVATIONS.index(name)


def io_operands(e: BaseEmitter, node: Node) -> Operands:
    """x: the first input's offset; y: the first output's."""
    return {"x": e.offset(node.inputs[0]), "y": e.offset(node.port())}


# ----- core ops -----
def dense_operands(e: BaseEmitter, node: Node, bias_pack: Pack | None = None) -> Operands:
    """A Dense over the last axis: `rows` per sample of `k` values into `n`;
    `b` the bias's weight offset (-1: none), packed by `bias_pack` if given.
    The kernel's layout is the target's choice."""
    x = e.graph.type_of(node.inputs[0])
    a = node.attrs
    return {**io_operands(e, node), "rows": math.prod(x.shape[1:-1]),  # type: ignore
            "k": x.shape[-1], "n": a.units,  # type: ignore[dict-item]
            "b": bias(e, node, bias_pack), "act": act(a.activation)}


def bias(e: BaseEmitter, node: Node, pack: Pack | None = None) -> int:
    """The weight offset of a node's bias (its second weight), -1 without one."""
    return e.weight(node.weights[1], pack=pack) if node.attrs.use_bias else -1


def row_operands(e: BaseEmitter, node: Node) -> Operands:
    """An activation over rows of the last axis: `size` values per sample,
    rows of `row`."""
    t = node.type
    return {**io_operands(e, node), "size": t.sample_size, "row": t.shape[-1],  # type: ignore
            "act": act(node.attrs.activation)}


@shared(OpKind.INPUT, OpKind.VIEW)
def nothing(e: BaseEmitter, node: Node) -> Steps:
    """Inputs are copied in by the runtime; views share their source's buffer."""
    return []


@shared(OpKind.ACTIVATION)
def activation(e: BaseEmitter, node: Node) -> Steps:
    return [("act", row_operands(e, node))]


@shared(OpKind.DROPOUT, OpKind.RESHAPE)
def copy(e: BaseEmitter, node: Node) -> Steps:
    """Unfolded identity and reshape ops (when their passes are turned off)."""
    return [("copy", {**io_operands(e, node), "size": node.type.sample_size})]


@shared(OpKind.FLATTEN)
def flatten(e: BaseEmitter, node: Node) -> Steps:
    """A copy, or for a flatten of channels-first maps the channel axis moved
    last: (C, S) -> (S, C) per sample."""
    x = e.graph.type_of(node.inputs[0])
    if node.attrs.data_format == "channels_last" or x.rank <= 2:
        return copy(e, node)
    channels = x.shape[1]
    return [("transpose_cs", {**io_operands(e, node), "channels": channels,  # type: ignore
                              "spatial": x.sample_size // channels})]  # type: ignore


@shared(OpKind.EMBEDDING)
def gather(e: BaseEmitter, node: Node) -> Steps:
    """Rows of an embedding table, and the mask output (-1: none)."""
    a = node.attrs
    masks = rule_for(node.op).mask_outputs(a)
    return [("gather", {**io_operands(e, node), "w": e.weight(node.weights[0]),
                        "count": e.graph.type_of(node.inputs[0]).sample_size,
                        "dim": a.output_dim, "vocabulary": a.input_dim,
                        "mask": e.offset(node.port(masks[0])) if masks else -1})]


# ----- merges -----
# The binary op each element-wise merge chains (an average adds, then scales).
MERGE_BINOPS = {OpKind.ADD: "add", OpKind.AVERAGE: "add", OpKind.SUBTRACT: "sub",
                OpKind.MULTIPLY: "mul", OpKind.MAXIMUM: "max", OpKind.MINIMUM: "min"}


@shared(*MERGE_BINOPS)
def merge(e: BaseEmitter, node: Node) -> Steps:
    """An n-ary element-wise merge as a chain of binary steps accumulating
    into the output (each element is read before it is written, so the output
    may share an input's buffer), then, for an average, a scale by 1/n."""
    y, size = e.offset(node.port()), node.type.sample_size
    binop = BINOPS.index(MERGE_BINOPS[node.op])
    steps: Steps = []
    acc = e.offset(node.inputs[0])
    for p in node.inputs[1:]:
        steps.append(("binary", {"a": acc, "b": e.offset(p), "y": y, "size": size,
                                 "binop": binop}))
        acc = y
    if node.op is OpKind.AVERAGE:
        steps.append(("scale", {"x": y, "y": y, "size": size,
                                "factor": e.constant(1.0 / len(node.inputs))}))
    return steps


@shared(OpKind.MASKED_MERGE)
def masked_merge(e: BaseEmitter, node: Node) -> Steps:
    """A pair of masked inputs merged as Keras 3.15 merges them (one step;
    a mask offset of -1: that input has none)."""
    a = node.attrs
    masks = iter(node.inputs[2:])
    ma, mb = (e.offset(next(masks)) if m else -1 for m in a.masked)
    return [("masked_binary", {"a": e.offset(node.inputs[0]), "b": e.offset(node.inputs[1]),
                               "y": e.offset(node.port()), "size": node.type.sample_size,
                               "binop": BINOPS.index(a.op), "ma": ma, "mb": mb,
                               "width": node.type.sample_size // e.graph.type_of(
                                   node.inputs[2]).sample_size, "zero": int(a.zero)})]


@shared(OpKind.CONCATENATE)
def concatenate(e: BaseEmitter, node: Node) -> Steps:
    """One copy per input into its columns of the output."""
    axis = node.attrs.axis
    out = node.type
    outer = math.prod(out.shape[1:axis])  # type: ignore[arg-type]
    after = math.prod(out.shape[axis + 1:])  # type: ignore[arg-type]
    stride = out.shape[axis] * after
    steps: Steps = []
    start = 0
    for p in node.inputs:
        inner = e.graph.type_of(p).shape[axis] * after
        steps.append(("concat", {"x": e.offset(p), "y": e.offset(node.port()), "outer": outer,
                                 "inner": inner, "stride": stride, "start": start}))
        start += inner
    return steps


@shared(OpKind.DOT)
def dot(e: BaseEmitter, node: Node) -> Steps:
    """Per sample and group, (rows, k) @ (k, cols)."""
    x, y = (e.graph.type_of(p) for p in node.inputs)
    groups, rows, k, cols = dot_sizes(x, y, node.attrs.groups)
    return [("dot", {"a": e.offset(node.inputs[0]), "b": e.offset(node.inputs[1]),
                     "y": e.offset(node.port()), "rows": rows, "k": k, "cols": cols,
                     "groups": groups})]


@shared(OpKind.ATTENTION)
def attention(e: BaseEmitter, node: Node) -> Steps:
    """One step: per sample, head and query, the scores, the masks, a softmax
    and the weighted sum of the values. `par` (weight offset): the factor of
    the scores (dot) or of the tanh arguments (tanh), then dk factors of the
    tanh terms, the learned scalars and vectors folded in at lowering; mask
    offsets -1: none."""
    a = node.attrs
    tq, tk, h, hk, dk, dv = attention_sizes(a, tuple(e.graph.type_of(p) for p in node.inputs))
    weights = iter(np.asarray(e.graph.weights[w], np.float64) for w in node.weights)
    learned = float(next(weights)) if a.scale_weight else 1.0
    terms = np.broadcast_to(next(weights), (dk,)) if a.tanh_weight else np.ones(dk)
    pre = learned * (a.scale if a.score == "dot" else 1.0)
    extra = iter(node.inputs[3:])
    masks = {name: e.offset(next(extra)) for name in a.masks}
    return [("attention", {
        "q": e.offset(node.inputs[0]), "k": e.offset(node.inputs[1]),
        "v": e.offset(node.inputs[2]), "y": e.offset(node.port()),
        "p": e.offset(node.port(1)) if a.scores else -1,
        "qm": masks.get("query", -1), "vm": masks.get("value", -1),
        "km": masks.get("key", -1), "am": e.offset(next(extra)) if a.attention_mask else -1,
        "tq": tq, "tk": tk, "heads": h, "kv": hk, "dk": dk, "dv": dv,
        "tanh": int(a.score == "tanh"), "par": e.constants(np.concatenate([[pre], terms])),
        "masking": ("zero", "mean", "subtract").index(a.masking),
        "qrows": int(a.query_mask == "rows"),
        "causal": int(a.causal), "window": a.window})]


@shared(OpKind.RESIZE)
def resize(e: BaseEmitter, node: Node) -> Steps:
    """One step over the output: per pixel, `taps` x `taps` input pixels
    weighted from the per-axis tables (ir/ops/resize.py), stored as weight
    constants: row indices `ri` and weights `rw` (oh x taps), column `ci`
    and `cw` (ow x taps); index -1 reads `fill` (a weight offset)."""
    a = node.attrs
    (h, w), c = split(e.graph.type_of(node.inputs[0]), a.data_format, 2)
    rows, row_w, cols, col_w = resize_tables(a, h, w)
    return [("image_resize", {**io_operands(e, node), "h": h, "w_": w, "c": c,
                              "oh": rows.shape[0], "ow": cols.shape[0], "taps": rows.shape[1],
                              "ri": e.constants(rows),
                        "rw": e.constants(row_w), "ci": e.constants(cols),
                        "cw": e.constants(col_w), "fill": e.constant(a.fill_value),
                        "first": int(a.data_format == "channels_first")})]


# ----- activation layers -----
@shared(OpKind.RELU, OpKind.ELU, OpKind.PRELU)
def rectify(e: BaseEmitter, node: Node) -> Steps:
    """y = clip(x, 0, top) above the threshold t, alpha * f(x - t) at or
    below it, f the identity or expm1 (ELU); alpha one value, or one per
    sample value (PReLU's, spread over its shared axes)."""
    a, size = node.attrs, node.type.sample_size
    threshold, top, alpha, period = 0.0, np.inf, 0.0, 1
    if node.op is OpKind.RELU:
        threshold, alpha = a.threshold, a.negative_slope
        top = np.inf if a.max_value is None else a.max_value
    elif node.op is OpKind.ELU:
        alpha = a.alpha
    x = e.graph.type_of(node.inputs[0])
    if node.op is OpKind.PRELU:
        prelu_alpha_shape(a, x)
        at = e.weight(node.weights[0], pack=lambda w: np.broadcast_to(
            w, x.sample_shape).reshape(-1))  # type: ignore[arg-type]
        period = size
    else:
        at = e.constant(alpha)
    return [("rectify", {**io_operands(e, node), "size": size, "alpha": at, "period": period,
                         "params": e.constants(np.array([threshold, min(top, 3.0e38)])),
                         "exp": int(node.op is OpKind.ELU)})]


@shared(OpKind.SOFTMAX)
def softmax(e: BaseEmitter, node: Node) -> Steps:
    outer, n, inner = softmax_block(node.attrs, node.type)
    return [("softmax_axis", {**io_operands(e, node), "outer": outer, "n": n, "inner": inner,
                              "log": int(node.attrs.log)})]


@shared(OpKind.GLU)
def glu(e: BaseEmitter, node: Node) -> Steps:
    """Per row of the last axis: the first half times sigmoid of the second."""
    half: int = node.type.shape[-1]  # type: ignore[assignment]
    return [("glu", {**io_operands(e, node), "rows": node.type.sample_size // half,
                     "half": half})]


@shared(OpKind.MASKING)
def masking(e: BaseEmitter, node: Node) -> Steps:
    x = e.graph.type_of(node.inputs[0])
    return [("masking", {**io_operands(e, node), "m": e.offset(node.port(1)),
                         "steps": x.shape[1], "features": x.shape[2],  # type: ignore
                         "value": e.constant(node.attrs.mask_value)})]


# ----- normalization -----
@shared(OpKind.LAYER_NORM, OpKind.GROUP_NORM)
def moments(e: BaseEmitter, node: Node) -> Steps:
    """A sample seen as (a, r1, k, r2): each of the a x k groups is
    normalized by its moments over r1 x r2; gamma and beta (-1: none) are
    indexed by i1 * gs1 + k * gsk + (i2 // gdiv) * gs2."""
    a = node.attrs
    x = e.graph.type_of(node.inputs[0])
    if node.op is OpKind.LAYER_NORM:
        outer, n, inner = norm_block(a.axes, x)
        geometry = dict(a=outer, r1=n, k=inner, r2=1, gs1=1, gsk=0, gs2=0, gdiv=1)
        mode = NORM_MODES.index(a.mode)
        has_beta = a.center and a.mode == "layer"
    else:
        outer, groups, per, inner = group_block(a, x)
        if outer > 1 and inner > 1:
            raise TargetError(f"{node.label}: group normalization over a middle channel axis "
                              f"(axis {a.axis} of {x}) is not supported; use the first or last "
                              f"sample axis")
        geometry = dict(a=1, r1=outer, k=groups, r2=per * inner, gs1=0, gsk=per, gs2=1,
                        gdiv=inner)
        mode, has_beta = 0, a.center
    gamma = e.weight(node.weights[0], pack=lambda w: w.reshape(-1)) if a.scale else -1
    beta = (e.weight(node.weights[int(a.scale)], pack=lambda w: w.reshape(-1))
            if has_beta else -1)
    eps = a.epsilon if mode != 2 else 1e-12
    return [("moments", {**io_operands(e, node), **geometry, "gamma": gamma, "beta": beta,
                         "eps": e.constant(eps), "mode": mode})]


def scale_shift_operands(e: BaseEmitter, node: Node) -> Operands:
    """A batch normalization or a rescaling as y = x * scale + shift per
    channel (ir/ops/normalization.py: the moving statistics folded at
    lowering, stored under the statistics' names; a rescaling's values
    spread over the last axis), over a sample seen as (outer, c, inner) with
    c the channels; `row` the last axis, for a row-wise activation; scale
    and shift are weight-arena offsets."""
    x = e.graph.type_of(node.inputs[0])
    a = node.attrs
    dims = x.sample_shape
    if node.op is OpKind.BATCH_NORM:
        axis = a.axis
        s, t = scale_and_shift(a, [e.graph.weights[name] for name in node.weights])
        s_at = e.weight(node.weights[-1], pack=lambda _: s.astype(np.float32))
        t_at = e.weight(node.weights[-2], pack=lambda _: t.astype(np.float32))
    elif node.op is OpKind.NORMALIZE:  # one (s, t) per sample value
        s, t = normalize_vectors(a, [e.graph.weights[name] for name in node.weights],
                                 dims)  # type: ignore[arg-type]
        s_at = e.weight(node.weights[-1], pack=lambda _: s.reshape(-1).astype(np.float32))
        t_at = e.weight(node.weights[-2], pack=lambda _: t.reshape(-1).astype(np.float32))
        return {**io_operands(e, node), "outer": 1, "c": x.sample_size, "inner": 1,
                "row": dims[-1], "scale": s_at, "shift": t_at,  # type: ignore[dict-item]
                "act": act("linear")}
    else:
        axis = x.rank - 1
        s, t = rescale_vectors(a, dims[-1])  # type: ignore[arg-type]
        s_at, t_at = e.constants(s), e.constants(t)
    return {**io_operands(e, node), "outer": math.prod(dims[:axis - 1]),  # type: ignore
            "c": dims[axis - 1], "inner": math.prod(dims[axis:]),  # type: ignore
            "row": dims[-1], "scale": s_at, "shift": t_at,  # type: ignore[dict-item]
            "act": act(a.activation)}


@shared(OpKind.BATCH_NORM, OpKind.RESCALE, OpKind.NORMALIZE)
def scale_shift(e: BaseEmitter, node: Node) -> Steps:
    return [("scale_shift", scale_shift_operands(e, node))]


def mask_offset(e: BaseEmitter, node: Node) -> int:
    """The arena offset of an op's mask input, or -1 when it reads none."""
    masks = rule_for(node.op).mask_inputs(node.attrs)
    return e.offset(node.inputs[masks[0]]) if masks else -1


# ----- recurrent layers -----
def state_slot(e: BaseEmitter, node: Node) -> int:
    """The state slot of a stateful op (its states' per-sample offset), or -1."""
    shapes = rule_for(node.op).state_shapes(node.attrs)
    if not shapes:
        return -1
    return e.state(node.layer or node.id, len(shapes), math.prod(shapes[0]))


def recurrent_operands(e: BaseEmitter, node: Node) -> Operands:
    """A recurrent layer's sequence: where its states start (`init`: zeros,
    the initial states h0/c0 in the arena, or a stateful layer's slot
    `state`), where the final states go (ht/ct, with return_state), its sizes
    and its cell's options."""
    a = node.attrs
    x = e.graph.type_of(node.inputs[0])
    two = state_count(a) == 2
    states = node.inputs[1 + a.has_mask:]
    slot = state_slot(e, node)
    init = "state" if slot >= 0 else ("arena" if a.has_initial_state else "zeros")
    return {"y": e.offset(node.port()), "mask": mask_offset(e, node),
            "init": INITS.index(init),
            "h0": e.offset(states[0]) if a.has_initial_state else 0,
            "c0": e.offset(states[1]) if a.has_initial_state and two else 0,
            "ret_state": int(a.return_state),
            "ht": e.offset(node.port(1)) if a.return_state else 0,
            "ct": e.offset(node.port(2)) if a.return_state and two else 0, "state": slot,
            "steps": x.shape[1], "features": x.shape[2], "units": a.units,
            "cell": CELLS.index(a.cell), "act": act(a.activation),
            "rec_act": act(a.recurrent_activation), "reset_after": int(a.reset_after),
            "seq": int(a.return_sequences) * (2 if a.zero_output_for_mask else 1),
            "backwards": int(a.go_backwards)}
