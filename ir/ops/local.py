"""Rules for locally-connected layers: a convolution without weight sharing.

Keras 3 dropped these layers, so layerc defines them (from the Keras 2 design):
'valid' windows of `kernel` with `strides`; the output position p (row-major
over the output grid) has its own kernel, shape (prod(kernel) * in, filters),
whose rows take the window's values in (kernel offsets..., channel) order, in
both data formats (as a Conv kernel is (*kernel, in, filters) in both); and its
own bias, the bias having shape (*output grid, filters).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import numpy as np

from layerc.ir import activations
from layerc.ir.opkind import OpKind
from layerc.ir.ops import checks
from layerc.ir.ops.conv import from_channels_last, to_channels_last
from layerc.ir.ops.spatial import channel_axis, join, window_output
from layerc.ir.registry import OpRule, Window, register
from layerc.ir.types import TensorType


@dataclass(frozen=True, slots=True)
class LocalAttrs:
    filters: int
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    data_format: str = "channels_last"
    use_bias: bool = True
    activation: str = "linear"


def _window(a: LocalAttrs) -> Window:
    return Window(a.kernel, a.strides, (1,) * len(a.kernel), "valid")


def _grid(a: LocalAttrs, x: TensorType) -> tuple[tuple[int, ...], int]:
    """The output grid's sizes and the input channels."""
    w = _window(a)
    sizes, _, channels = window_output(x, a.data_format, w.kernel, w.strides, w.dilation,
                                       w.padding, "kernel")
    return sizes, channels


def _infer_local(a: LocalAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    checks.positive("filters", a.filters)
    checks.activation("activation", a.activation)
    sizes, _ = _grid(a, ins[0])
    return (join(sizes, a.filters, a.data_format),)


def _local_weights(a: LocalAttrs, ins: tuple[TensorType, ...]) -> tuple[tuple[int, ...], ...]:
    sizes, channels = _grid(a, ins[0])
    kernel = (math.prod(sizes), math.prod(a.kernel) * channels, a.filters)
    return (kernel, (*sizes, a.filters)) if a.use_bias else (kernel,)


def _ref_local(a: LocalAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    x = to_channels_last(xs[0].astype(np.float64), a.data_format)
    sizes, _ = _grid(dataclasses.replace(a, data_format="channels_last"),
                     TensorType((None, *x.shape[1:])))
    y = np.zeros((x.shape[0], *sizes, a.filters))
    for p, position in enumerate(itertools.product(*(range(n) for n in sizes))):
        window = (slice(None),) + tuple(slice(i * s, i * s + k) for i, s, k in
                                        zip(position, a.strides, a.kernel))
        patch = x[window].reshape(x.shape[0], -1)
        y[(slice(None),) + tuple(position)] = patch @ ws[0][p].astype(np.float64)
    if a.use_bias:
        y += ws[1]
    # The activation sees the output in its own data format (softmax: last axis).
    return [activations.apply(a.activation, from_channels_last(y, a.data_format))]


def _local_flops(a: LocalAttrs, ins: tuple[TensorType, ...], outs: tuple[TensorType, ...]) -> int:
    """2 * window cells * input channels per output value, as a convolution."""
    _, channels = _grid(a, ins[0])
    return 2 * math.prod(a.kernel) * channels * outs[0].sample_size


register(OpRule(OpKind.LOCAL, LocalAttrs, _infer_local, _ref_local, _local_weights, epilogue=True,
                sums_products=True, window=_window, flops=_local_flops,
                output_channels=channel_axis))
