"""Rules for pooling: windowed max/average and global max/average."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from layerc.ir.errors import ShapeError
from layerc.ir.opkind import OpKind
from layerc.ir.ops import checks
from layerc.ir.ops.conv import (check_pads, from_channels_last, to_channels_last,
                                window_slices)
from layerc.ir.ops.spatial import join, split, window_output
from layerc.ir.registry import OpRule, Window, register
from layerc.ir.types import TensorType

MODES = ("max", "avg")


@dataclass(frozen=True, slots=True)
class PoolAttrs:
    mode: str  # max or avg
    pool: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str  # valid or same
    data_format: str = "channels_last"
    pads: tuple[tuple[int, int], ...] | None = None  # set by specialize-padding


def _ones(n: int) -> tuple[int, ...]:
    return (1,) * n


def _infer_pool(a: PoolAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    checks.one_of("mode", a.mode, MODES)
    checks.one_of("padding", a.padding, ("valid", "same"))
    sizes, pads, channels = window_output(ins[0], a.data_format, a.pool, a.strides,
                                          _ones(len(a.pool)), a.padding, "pool window",
                                          variable=True)
    check_pads(a.pads, pads)
    return (join(sizes, channels, a.data_format),)


def _ref_pool(a: PoolAttrs, xs: list[np.ndarray], ws: list[np.ndarray]) -> list[np.ndarray]:
    """Max pads with -inf; average divides by the number of in-bounds cells."""
    x = to_channels_last(xs[0].astype(np.float64), a.data_format)
    t = TensorType((None, *x.shape[1:]))
    dil = _ones(len(a.pool))
    sizes, pads, _ = window_output(t, "channels_last", a.pool, a.strides, dil, a.padding,
                                   "pool window")
    fill = -np.inf if a.mode == "max" else 0.0
    xp = np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=fill)
    inside = np.pad(np.ones((1, *x.shape[1:-1], 1)), ((0, 0), *pads, (0, 0)))
    windows = [window_slices(o, dil, a.strides, sizes)
               for o in itertools.product(*(range(k) for k in a.pool))]
    if a.mode == "max":
        y = np.max([xp[w] for w in windows], axis=0)
    else:
        y = np.sum([xp[w] for w in windows], axis=0) / np.sum([inside[w] for w in windows],
                                                               axis=0)
    return [from_channels_last(y.astype(np.float32), a.data_format)]


def _window(a: PoolAttrs) -> Window:
    return Window(a.pool, a.strides, _ones(len(a.pool)), a.padding)


register(OpRule(OpKind.POOL, PoolAttrs, _infer_pool, _ref_pool, window=_window,
                flops=lambda a, ins, outs: math.prod(a.pool) * outs[0].sample_size,
                runs_in_producer=lambda a, producer: True))


@dataclass(frozen=True, slots=True)
class GlobalPoolAttrs:
    mode: str  # max or avg
    rank: int  # spatial axes: 1, 2 or 3
    data_format: str = "channels_last"
    keepdims: bool = False
    has_mask: bool = False  # 1-D average only: a second input (batch, steps) of 1/0


def _infer_global(a: GlobalPoolAttrs, ins: tuple[TensorType, ...]) -> tuple[TensorType, ...]:
    checks.one_of("mode", a.mode, MODES)
    sizes, channels = split(ins[0], a.data_format, a.rank, variable=True)
    if a.has_mask and (a.rank != 1 or a.mode != "avg" or len(ins) != 2
                       or ins[1].shape != (None, sizes[0])):
        raise ShapeError(f"a mask applies to 1-D average pooling as (batch, {sizes[0]}), "
                         f"got inputs {', '.join(str(t) for t in ins)}")
    if not a.keepdims:
        return (TensorType((None, channels)),)
    return (join(_ones(a.rank), channels, a.data_format),)


def _ref_global(a: GlobalPoolAttrs, xs: list[np.ndarray],
                ws: list[np.ndarray]) -> list[np.ndarray]:
    x = xs[0].astype(np.float64)
    axes = tuple(range(1, 1 + a.rank)) if a.data_format == "channels_last" \
        else tuple(range(2, 2 + a.rank))
    if a.has_mask:  # Keras: sum over unmasked steps / their count
        mask = xs[1].astype(np.float64)[:, :, None] if a.data_format == "channels_last" \
            else xs[1].astype(np.float64)[:, None, :]
        y = np.sum(x * mask, axis=axes, keepdims=a.keepdims) / np.sum(mask, axis=axes,
                                                                       keepdims=a.keepdims)
        return [y.astype(np.float32)]
    reduce = np.max if a.mode == "max" else np.mean
    return [reduce(x, axis=axes, keepdims=a.keepdims).astype(np.float32)]


register(OpRule(OpKind.GLOBAL_POOL, GlobalPoolAttrs, _infer_global, _ref_global, arity=(1, 2),
                mask_inputs=lambda a: (1,) if a.has_mask else (),
                flops=lambda a, ins, outs: ins[0].sample_size))
