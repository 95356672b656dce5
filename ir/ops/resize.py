"""The rule of image resizing (Keras's Resizing and CenterCrop's smart
resize), as Keras 3.15 computes it with the torch backend (PyTorch's
interpolate, align_corners=False, no antialiasing).

Resizing is separable: each output row (column) reads `taps` input rows
(columns) with weights, from per-axis tables (`axis_table`) that both
backends and the reference share. Before resizing, the image may be cropped
to the target's aspect ratio (a centered box) or padded to it (a centered
box in a canvas of `fill_value`); a table index outside the input reads the
fill value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.ops.spatial import join, split
from layerc.ir.registry import OpRule, register
from layerc.ir.types import TensorType

INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
TAPS = {"nearest": 1, "bilinear": 2, "bicubic": 4}
CUBIC_A = -0.75  # PyTorch's bicubic coefficient


@dataclass(frozen=True, slots=True)
class ResizeAttrs:
    size: tuple[int, int]  # (height, width)
    interpolation: str = "bilinear"
    aspect: str = ""  # "", "crop" or "pad": fit the input to the size's aspect ratio first
    fill_value: float = 0.0  # what "pad" adds
    data_format: str = "channels_last"
    # `size` multiplies the input's (height, width) (UpSampling2D), so a
    # variable-size input keeps its op and only the lowering needs its sizes.
    by_factor: bool = False


def target(a: ResizeAttrs, height: int, width: int) -> tuple[int, int]:
    """The output's (height, width) for an input of this size."""
    return (height * a.size[0], width * a.size[1]) if a.by_factor else a.size


def box(a: ResizeAttrs, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, box height, box width) of the image the resize reads, in
    input coordinates: a crop lies inside, a pad's starts are negative."""
    th, tw = target(a, height, width)
    if a.aspect == "crop":
        bh = max(min(height, int(float(width * th) / tw)), 1)
        bw = max(min(width, int(float(height * tw) / th)), 1)
        return int(float(height - bh) / 2), int(float(width - bw) / 2), bh, bw
    if a.aspect == "pad":  # Keras pads the start's width on both sides (an odd rest is lost)
        top = int(float(max(height, int(float(width * th) / tw)) - height) / 2)
        left = int(float(max(width, int(float(height * tw) / th)) - width) / 2)
        return -top, -left, height + 2 * top, width + 2 * left
    return 0, 0, height, width


def _cubic(t: float) -> tuple[float, float, float, float]:
    a = CUBIC_A

    def near(x: float) -> float:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: float) -> float:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return far(t + 1), near(t), near(1 - t), far(2 - t)


def axis_table(n_in: int, start: int, n_box: int, n_out: int,
               interpolation: str) -> tuple[np.ndarray, np.ndarray]:
    """(indices, weights), each (n_out, taps): output i reads input rows
    indices[i] (-1: the fill value) with weights[i], resizing the box of
    n_box rows from `start` to n_out rows. The source positions are computed
    in float32 as PyTorch does, so a position that lands on a pixel boundary
    picks the pixel PyTorch picks."""
    f32 = np.float32
    taps = TAPS[interpolation]
    index = np.zeros((n_out, taps), np.int64)
    weight = np.zeros((n_out, taps), np.float64)
    scale = f32(n_box) / f32(n_out)
    for i in range(n_out):
        if interpolation == "nearest":  # PyTorch's nearest-exact
            rows, ws = [min(math.floor(f32((i + 0.5) * float(scale))), n_box - 1)], [1.0]
        else:
            src = scale * f32(i + 0.5) - f32(0.5)
            if interpolation == "bilinear":
                src = max(src, f32(0.0))
                low = min(math.floor(src), n_box - 1)
                t = float(min(max(src - f32(low), f32(0.0)), f32(1.0)))
                rows, ws = [low, min(low + 1, n_box - 1)], [1.0 - t, t]
            else:
                low = math.floor(src)
                rows = [min(max(low + k, 0), n_box - 1) for k in (-1, 0, 1, 2)]
                ws = list(_cubic(float(src - f32(low))))
        for k, (r, w) in enumerate(zip(rows, ws)):
            at = start + r
            index[i, k] = at if 0 <= at < n_in else -1
            weight[i, k] = w
    return index, weight


def _check(a: ResizeAttrs, x: TensorType) -> tuple[tuple[int, ...], int]:
    if a.interpolation not in INTERPOLATIONS or a.aspect not in ("", "crop", "pad"):
        raise ShapeError(f"unknown resize options {a}")
    if len(a.size) != 2 or min(a.size) < 1:
        raise ShapeError(f"the size must be two positive ints, got {a.size}")
    sizes, channels = split(x, a.data_format, 2, variable=a.by_factor)
    return sizes, channels


def _infer(a: ResizeAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    (h, w), channels = _check(a, ins[0])
    if a.by_factor:
        sizes = tuple(None if n is None else n * f for n, f in zip((h, w), a.size))
        return (join(sizes, channels, a.data_format),)
    return (join(a.size, channels, a.data_format),)


def tables(a: ResizeAttrs, height: int, width: int) -> tuple[np.ndarray, ...]:
    """(row indices, row weights, column indices, column weights)."""
    top, left, bh, bw = box(a, height, width)
    th, tw = target(a, height, width)
    return (*axis_table(height, top, bh, th, a.interpolation),
            *axis_table(width, left, bw, tw, a.interpolation))


def _reference(a: ResizeAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    x = xs[0].astype(np.float64)
    if a.data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    rows, row_w, cols, col_w = tables(a, x.shape[1], x.shape[2])
    canvas = np.full((x.shape[0], x.shape[1] + 1, x.shape[2] + 1, x.shape[3]), a.fill_value)
    canvas[:, :-1, :-1] = x  # index -1: the fill value
    picked = canvas[:, rows][:, :, :, cols]  # (n, oh, taps, ow, taps, c)
    y = np.einsum("nhawbc,ha,wb->nhwc", picked, row_w, col_w)
    if a.data_format == "channels_first":
        y = np.moveaxis(y, -1, 1)
    return [y.astype(np.float32)]


def _flops(a: ResizeAttrs, ins: tuple[TensorType, ...], outs: tuple[TensorType, ...]) -> int:
    return 2 * TAPS[a.interpolation] ** 2 * outs[0].sample_size


register(OpRule(OpKind.RESIZE, ResizeAttrs, _infer, _reference, flops=_flops))
