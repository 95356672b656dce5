"""The shared lowerings of the ops that only move values (RepeatVector's
repeat; transposes, zero padding, cropping, nearest upsampling, broadcasts
and reversals as one strided copy) and the bilinear resize: every target
runs the same steps (`repeat`, `strided`, `resize`). codegen/base.py imports
this module with codegen/lowering.py, which registers them."""

from __future__ import annotations

import math


from layerc.codegen.base import BaseEmitter, Operands, Steps, shared
from layerc.codegen.lowering import io_operands
from layerc.ir import Node, OpKind, TargetError


@shared(OpKind.REPEAT)
def repeat(e: BaseEmitter, node: Node) -> Steps:
    """Each sample's `size` values written `n` times in a row."""
    return [("repeat", {**io_operands(e, node), "n": node.attrs.n,
                        "size": e.graph.type_of(node.inputs[0]).sample_size})]


# ----- the value-moving ops as one strided copy -----
COPY_DIMS = 6  # the iteration space's axes a strided copy row holds


def strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides of a sample shape, in values."""
    return tuple(math.prod(shape[i + 1:]) for i in range(len(shape)))


def strided_operands(e: BaseEmitter, node: Node, dims: tuple[int, ...], xs: tuple[int, ...],
                     ys: tuple[int, ...], xo: int = 0, yo: int = 0,
                     zero: bool = False) -> Operands:
    """y[yo + sum i_k ys_k] = x[xo + sum i_k xs_k] over the index space
    `dims`, per sample, after zeroing y's sample when `zero`; axes of size 1
    drop and axes that run on contiguously in both merge, so that most
    copies are a few long runs."""
    kept = [(d, a, b) for d, a, b in zip(dims, xs, ys) if d != 1]
    merged: list[tuple[int, int, int]] = []
    for d, a, b in kept:
        if merged and merged[-1][1] == a * d and merged[-1][2] == b * d:
            merged[-1] = (merged[-1][0] * d, a, b)
        else:
            merged.append((d, a, b))
    if len(merged) > COPY_DIMS:
        raise TargetError(f"{node.label}: this data movement needs {len(merged)} strided axes; "
                          f"layerc's copy kernel walks at most {COPY_DIMS}")
    merged = [(1, 0, 0)] * (COPY_DIMS - len(merged)) + merged
    x = e.graph.type_of(node.inputs[0])
    operands = {**io_operands(e, node), "xsize": x.sample_size, "ysize": node.type.sample_size,
                "zero": int(zero), "xo": xo, "yo": yo}
    for k, (d, a, b) in enumerate(merged):
        operands.update({f"d{k}": d, f"xs{k}": a, f"ys{k}": b})
    return operands


@shared(OpKind.TRANSPOSE)
def transpose(e: BaseEmitter, node: Node) -> Steps:
    """Each output value read from its permuted place."""
    x = e.graph.type_of(node.inputs[0]).sample_shape
    perm = [p - 1 for p in node.attrs.perm[1:]]
    xs = strides(x)  # type: ignore[arg-type]
    out = node.type.sample_shape
    return [("strided", strided_operands(e, node, out, tuple(xs[p] for p in perm),  # type: ignore
                                         strides(out)))]  # type: ignore[arg-type]


@shared(OpKind.PAD)
def pad(e: BaseEmitter, node: Node) -> Steps:
    """The output zeroed, then the input copied into its interior."""
    x, out = e.graph.type_of(node.inputs[0]).sample_shape, node.type.sample_shape
    ys = strides(out)  # type: ignore[arg-type]
    yo = sum(lo * s for (lo, _), s in zip(node.attrs.pads, ys))
    return [("strided", strided_operands(e, node, x, strides(x), ys, yo=yo,  # type: ignore
                                         zero=True))]


@shared(OpKind.CROP)
def crop(e: BaseEmitter, node: Node) -> Steps:
    """The kept window of the input copied out."""
    x, out = e.graph.type_of(node.inputs[0]).sample_shape, node.type.sample_shape
    xs = strides(x)  # type: ignore[arg-type]
    xo = sum(lo * s for (lo, _), s in zip(node.attrs.crops, xs))
    return [("strided", strided_operands(e, node, out, xs, strides(out), xo=xo))]  # type: ignore


@shared(OpKind.BROADCAST)
def broadcast(e: BaseEmitter, node: Node) -> Steps:
    """Every output value read from the input, its size-1 axes at stride 0."""
    x, out = e.graph.type_of(node.inputs[0]).sample_shape, node.type.sample_shape
    xs = tuple(0 if d == 1 else s for d, s in zip(x, strides(x)))  # type: ignore[arg-type]
    return [("strided", strided_operands(e, node, out, xs, strides(out)))]  # type: ignore


@shared(OpKind.REVERSE)
def reverse(e: BaseEmitter, node: Node) -> Steps:
    """A copy that reads the axis from its end: its input stride negated."""
    shape = node.type.sample_shape
    ys = strides(shape)  # type: ignore[arg-type]
    k = node.attrs.axis - 1
    xs = tuple(-s if i == k else s for i, s in enumerate(ys))
    return [("strided", strided_operands(e, node, shape, xs, ys,  # type: ignore[arg-type]
                                         xo=(shape[k] - 1) * ys[k]))]


@shared(OpKind.UPSAMPLE)
def upsample(e: BaseEmitter, node: Node) -> Steps:
    """A strided copy, each input axis split into (value, repeat) with the
    repeat at input stride 0."""
    x, out = e.graph.type_of(node.inputs[0]).sample_shape, node.type.sample_shape
    a = node.attrs
    dims, xs, ys = [], [], []
    for n, s, xstride, ystride in zip(x, a.size, strides(x), strides(out)):  # type: ignore
        dims += [n, s]
        xs += [xstride, 0]
        ys += [ystride * s, ystride]
    if len([d for d in dims if d != 1]) <= COPY_DIMS:
        return [("strided", strided_operands(e, node, tuple(dims), tuple(xs), tuple(ys)))]
    # More axes than a copy walks (a 3-D upsampling): the outermost repeated
    # axis written once per input value, then that copy's slices repeated
    # within the output.
    k = next(i for i, s in enumerate(a.size) if s > 1)
    dims[2 * k + 1] = 1
    inner = strides(out)[k]  # type: ignore[arg-type]
    size, s = math.prod(out), a.size[k]  # type: ignore[arg-type]
    n = out[k] // s
    outer = size // (n * s * inner)
    again = strided_operands(e, node, (outer, n, s - 1, inner), (n * s * inner, s * inner, 0, 1),
                             (n * s * inner, s * inner, inner, 1), yo=inner)
    again.update(x=again["y"], xsize=again["ysize"])
    return [("strided", strided_operands(e, node, tuple(dims), tuple(xs), tuple(ys))),
            ("strided", again)]

