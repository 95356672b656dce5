"""Rules for convolution (1-D, 2-D and 3-D, both data formats)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerc.ir import activations
from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.ops import checks
from layerc.ir.ops.spatial import channel_axis, join, split, window_output
from layerc.ir.registry import OpRule, Window, register
from layerc.ir.types import TensorType


@dataclass(frozen=True, slots=True)
class ConvAttrs:
    filters: int
    kernel: tuple[int, ...]  # one entry per spatial axis
    strides: tuple[int, ...]
    padding: str  # valid, same, causal, or explicit (the pads below; fold-padding)
    dilation: tuple[int, ...]
    data_format: str = "channels_last"
    use_bias: bool = True
    activation: str = "linear"
    # Set by the specialize-padding pass: explicit (before, after) pads per
    # spatial axis, and the kernel variant the backends should use.
    pads: tuple[tuple[int, int], ...] | None = None
    variant: str = ""
    # Keras's groups: input channels and filters split into this many groups,
    # each filter seeing its group's channels (the kernel is (*kernel,
    # channels / groups, filters)); a depthwise convolution has one group per
    # input channel.
    groups: int = 1


# The kernel variants specialize-padding picks (codegen numbers them in this order).
VARIANTS = ("im2col", "gemm", "direct", "winograd", "grouped")
DIRECT_MAX_TAPS = 32
# Winograd's transforms pay for themselves from this many input channels and
# filters on (README.md, "How it runs": 16 -> 16 ran 1.8x slower than the GEMM).
WINOGRAD_MIN_CHANNELS = 32


def conv_variant(window: Window, data_format: str, channels: int, filters: int,
                 pads: tuple[tuple[int, int], ...], groups: int = 1) -> str:
    """The kernel variant of a convolution (see passes/specialize_padding.py):
    what specialize-padding writes into `variant`, and what loading an
    artifact expects to find there."""
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


def check_pads(pads: object, computed: tuple[tuple[int, int], ...]) -> None:
    if pads is not None and tuple(pads) != computed:  # type: ignore[arg-type]
        raise ShapeError(f"stored pads {pads} differ from the computed {computed}")


def _infer_conv(a: ConvAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    checks.positive("filters", a.filters)
    checks.activation("activation", a.activation)
    checks.one_of("variant", a.variant, ("", *VARIANTS))
    sizes, pads, channels = window_output(ins[0], a.data_format, a.kernel, a.strides,
                                          a.dilation, a.padding, "kernel", variable=True,
                                          explicit=a.pads)
    check_pads(a.pads, pads)
    _check_groups(a, channels)
    return (join(sizes, a.filters, a.data_format),)


def _check_groups(a: ConvAttrs, channels: int) -> None:
    if a.groups < 1 or channels % a.groups or a.filters % a.groups:
        raise ShapeError(f"groups={a.groups} must divide the input channels ({channels}) and "
                         f"the filters ({a.filters})")


def _conv_weights(a: ConvAttrs, ins: tuple[TensorType, ...]) -> tuple[tuple[int, ...], ...]:
    _, _, channels = window_output(ins[0], a.data_format, a.kernel, a.strides, a.dilation,
                                   a.padding, "kernel", variable=True, explicit=a.pads)
    _check_groups(a, channels)
    kernel = (*a.kernel, channels // a.groups, a.filters)
    return (kernel, (a.filters,)) if a.use_bias else (kernel,)


def to_channels_last(x: np.ndarray, data_format: str) -> np.ndarray:
    return x if data_format == "channels_last" else np.moveaxis(x, 1, -1)


def from_channels_last(y: np.ndarray, data_format: str) -> np.ndarray:
    return y if data_format == "channels_last" else np.moveaxis(y, -1, 1)


def window_slices(offsets: tuple[int, ...], dilation: tuple[int, ...],
                  strides: tuple[int, ...], sizes: tuple[int, ...]) -> tuple[slice, ...]:
    """The input positions one kernel offset sees, for every output position
    (over a channels-last, already padded array)."""
    return (slice(None),) + tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                                  for o, d, s, n in zip(offsets, dilation, strides, sizes))


def _ref_conv(a: ConvAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    x = to_channels_last(xs[0].astype(np.float64), a.data_format)
    t = TensorType((None, *x.shape[1:]))
    sizes, pads, _ = window_output(t, "channels_last", a.kernel, a.strides, a.dilation,
                                   a.padding, "kernel", explicit=a.pads)
    xp = np.pad(x, ((0, 0), *pads, (0, 0)))
    y = np.zeros((x.shape[0], *sizes, a.filters))
    kernel = ws[0].astype(np.float64)
    cg, fg = x.shape[-1] // a.groups, a.filters // a.groups
    for offsets in itertools.product(*(range(k) for k in a.kernel)):
        patch = xp[window_slices(offsets, a.dilation, a.strides, sizes)]
        for g in range(a.groups):  # each group's filters see its channels
            y[..., g * fg:(g + 1) * fg] += \
                patch[..., g * cg:(g + 1) * cg] @ kernel[offsets][:, g * fg:(g + 1) * fg]
    if a.use_bias:
        y += ws[1]
    # The activation sees the output in its own data format (softmax: last axis).
    return [activations.apply(a.activation, from_channels_last(y, a.data_format))]


def _window(a: ConvAttrs) -> Window:
    return Window(a.kernel, a.strides, a.dilation, a.padding,
                  a.pads if a.padding == "explicit" else None)


def _conv_flops(a: ConvAttrs, ins: tuple[TensorType, ...], outs: tuple[TensorType, ...]) -> int:
    """2 * kernel cells * input channels of the group per output value (padded
    cells too)."""
    _, channels = split(ins[0], a.data_format, len(a.kernel))
    return 2 * math.prod(a.kernel) * (channels // a.groups) * outs[0].sample_size


def _after_depthwise(a: ConvAttrs, producer: Any) -> bool:
    """A 1x1 convolution after a grouped one (a SeparableConv's halves): the
    CPU runs both in one step (codegen/cpu/fusion.py)."""
    return a.groups == 1 and set(a.kernel) == {1} and set(a.strides) == {1} and \
        producer.op is OpKind.CONV and producer.attrs.groups > 1


register(OpRule(OpKind.CONV, ConvAttrs, _infer_conv, _ref_conv, _conv_weights, epilogue=True,
                sums_products=True, window=_window, flops=_conv_flops,
                output_channels=channel_axis, runs_in_producer=_after_depthwise))
