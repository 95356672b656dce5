"""Helpers of the spatial makers (convolution, pooling, locally connected): a
sample shape read as a feature map, and the window, stride and dilation options
drawn to fit it."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from layerc.testing.limits import MAX_SPATIAL_SIDE, MAX_STRIDE, Shape


def feature_map(shape: Shape, rank: int, data_format: str
                ) -> tuple[tuple[int, ...], int] | None:
    """(spatial sizes, channels) of a sample shape read as a `rank`-D feature map
    in `data_format`, or None when the shape has not rank + 1 axes (or an empty one)."""
    if len(shape) != rank + 1 or min(shape) < 1:
        return None
    if data_format == "channels_last":
        return tuple(shape[:-1]), shape[-1]
    return tuple(shape[1:]), shape[0]


def _applies(shape: Shape, rank: int) -> bool:
    """Whether a `rank`-D spatial layer takes inputs of `shape`."""
    return feature_map(shape, rank, "channels_last") is not None


def _spatial_sizes(shape: Shape, rank: int, data_format: str) -> tuple[int, ...]:
    sizes, _ = feature_map(shape, rank, data_format)  # type: ignore[misc]
    return sizes


def _spelled(draw: DrawFn, values: tuple[int, ...]) -> int | tuple[int, ...]:
    """An option of one int per spatial axis, spelled as one int (1-D layers, or
    equal entries half of the time) or as the tuple."""
    if len(values) == 1 or (len(set(values)) == 1 and draw(st.booleans())):
        return values[0]
    return values


def _strides_and_dilation(draw: DrawFn, rank: int, dilate: bool
                          ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Unit strides and dilation, strides 1..MAX_STRIDE per axis, or (when `dilate`)
    dilation 1..MAX_STRIDE per axis: never both above 1 (a ConfigError)."""
    ones = (1,) * rank
    axis = st.integers(1, MAX_STRIDE)
    if draw(st.booleans()):
        return tuple(draw(axis) for _ in range(rank)), ones
    if dilate and draw(st.booleans()):
        return ones, tuple(draw(axis) for _ in range(rank))
    return ones, ones


def _windows(draw: DrawFn, sizes: tuple[int, ...], padding: str,
             dilation: tuple[int, ...]) -> tuple[int, ...]:
    """A window (kernel or pool size) per axis that the padding lets fit: with
    'valid', a (dilated) span up to the input's side; with 'same' or 'causal' the
    pads make room, so up to one more than the side. At most MAX_SPATIAL_SIDE."""
    window = []
    for n, d in zip(sizes, dilation):
        most = (n - 1) // d + 1 if padding == "valid" else n + 1
        window.append(draw(st.integers(1, min(most, MAX_SPATIAL_SIDE))))
    return tuple(window)
