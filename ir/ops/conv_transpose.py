"""Rules for the transposed convolution (Keras's Conv1DTranspose and
Conv2DTranspose): each input position scatters kernel x values into the
output, `strides` apart, dilated taps, cropped as Keras 3.15 crops.

Keras (every backend computes what JAX's conv_transpose computes): the
output length is (n - 1) * s + k_eff + output_padding ('valid'; the
default output_padding is max(k_eff, s) - k_eff) or n * s ('same' without
output_padding; with one, (n - 1) * s + k_eff % 2 + output_padding), and
output position o gathers input i and tap t where i * s + t * d = o + crop,
crop = k_eff - 1 - left_pad (negative: the output starts before the first
scatter, with zeros). The kernel is Keras's (*kernel, filters, channels)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from layerc.ir import activations
from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.ops import checks
from layerc.ir.ops.conv import from_channels_last, to_channels_last
from layerc.ir.ops.spatial import check_window, effective, join, split
from layerc.ir.registry import OpRule, register
from layerc.ir.types import TensorType


@dataclass(frozen=True, slots=True)
class ConvTransposeAttrs:
    filters: int
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str  # valid or same
    output_padding: tuple[int, ...] | None
    dilation: tuple[int, ...]
    data_format: str = "channels_last"
    use_bias: bool = True
    activation: str = "linear"


def transpose_geometry(a: ConvTransposeAttrs, size: int, axis: int) -> tuple[int, int]:
    """(output length, crop) of one spatial axis of input length `size`."""
    k, s, d = a.kernel[axis], a.strides[axis], a.dilation[axis]
    span = effective(k, d)
    pad = None if a.output_padding is None else a.output_padding[axis]
    if a.padding == "valid":
        extra = max(span, s) - span if pad is None else pad
        left, right = span - 1, span - 1 + extra
    else:
        total = s + span - 2 if pad is None else span + span % 2 - 2 + pad
        left = min(total // 2 + total % 2, span - 1)
        right = total - left
    length = (size - 1) * s + 1 + left + right - span + 1
    return length, span - 1 - left


def _geometry(a: ConvTransposeAttrs, x: TensorType
              ) -> tuple[tuple[int | None, ...], tuple[int, ...], int]:
    checks.positive("filters", a.filters)
    checks.activation("activation", a.activation)
    check_window(a.kernel, a.strides, a.dilation, a.padding)
    spatial, channels = split(x, a.data_format, len(a.kernel), variable=True)
    if a.padding not in ("valid", "same"):
        raise ShapeError(f"padding must be 'valid' or 'same', got {a.padding!r}")
    if a.output_padding is not None:
        checks.per_axis("output_padding", a.output_padding, len(a.kernel))
    if a.output_padding is not None and any(
            p < 0 or p >= s for p, s in zip(a.output_padding, a.strides)):
        raise ShapeError(f"output_padding {a.output_padding} must be >= 0 and below the "
                         f"strides {a.strides}")
    sizes, crops = [], []
    for i, n in enumerate(spatial):
        length, crop = transpose_geometry(a, 1 if n is None else n, i)
        sizes.append(None if n is None else length)
        crops.append(crop)
    if any(s is not None and s < 1 for s in sizes):
        raise ShapeError(f"the output would be empty ({tuple(sizes)}) for input {x}")
    return tuple(sizes), tuple(crops), channels


def _infer(a: ConvTransposeAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    sizes, _, _ = _geometry(a, ins[0])
    return (join(sizes, a.filters, a.data_format),)  # type: ignore[arg-type]


def _weights(a: ConvTransposeAttrs, ins: tuple[TensorType, ...]) -> tuple[tuple[int, ...], ...]:
    _, _, channels = _geometry(a, ins[0])
    kernel = (*a.kernel, a.filters, channels)
    return (kernel, (a.filters,)) if a.use_bias else (kernel,)


def _reference(a: ConvTransposeAttrs, xs: list[np.ndarray], ws: list[np.ndarray]
               ) -> list[np.ndarray]:
    x = to_channels_last(xs[0].astype(np.float64), a.data_format)
    sizes, crops, _ = _geometry(a, TensorType((None, *xs[0].shape[1:])))
    kernel = ws[0].astype(np.float64)
    out: tuple[int, ...] = tuple(int(n) for n in sizes)  # type: ignore[arg-type]
    y = np.zeros((x.shape[0], *out, a.filters))
    every: tuple[slice, ...] = (slice(None),)
    for i in itertools.product(*(range(n) for n in x.shape[1:-1])):
        for t in itertools.product(*(range(k) for k in a.kernel)):
            o = tuple(ii * s + tt * d - c for ii, tt, s, d, c in
                      zip(i, t, a.strides, a.dilation, crops))
            if all(0 <= p < n for p, n in zip(o, out)):
                y[every + o] += x[every + i] @ kernel[t].T
    if a.use_bias:
        y += ws[1]
    return [activations.apply(a.activation, from_channels_last(y, a.data_format))]


def _flops(a: ConvTransposeAttrs, ins: tuple[TensorType, ...], outs: tuple[TensorType, ...]
           ) -> int:
    """2 * kernel cells * filters per input value (taps outside the output too)."""
    return 2 * math.prod(a.kernel) * a.filters * ins[0].sample_size


register(OpRule(OpKind.CONV_TRANSPOSE, ConvTransposeAttrs, _infer, _reference, _weights,
                epilogue=True, sums_products=True, flops=_flops))
