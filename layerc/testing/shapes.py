"""Strategies for sample shapes: plain shapes, feature maps, the default input
shapes, and Reshape targets."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from layerc.layers.base import SymbolicTensor
from layerc.testing.limits import DATA_FORMATS, MAX_CHANNELS, MAX_SIDE, MAX_SPATIAL_SIDE, Shape


def sample_shapes(min_rank: int = 1, max_rank: int = 3, max_side: int = MAX_SIDE
                  ) -> SearchStrategy[Shape]:
    """Sample shapes of rank min_rank..max_rank with sides 1..max_side."""
    side = st.integers(1, max_side)
    return st.integers(min_rank, max_rank).flatmap(
        lambda rank: st.tuples(*[side] * rank))


@st.composite
def spatial_shapes(draw: DrawFn, min_rank: int = 1, max_rank: int = 2,
                   max_side: int = MAX_SPATIAL_SIDE, max_channels: int = MAX_CHANNELS,
                   data_format: str | None = None) -> Shape:
    """Sample shapes of feature maps with min_rank..max_rank spatial axes of sides
    1..max_side and 1..max_channels channels, the channels last or first (drawn
    unless `data_format` is given): (steps, channels), (channels, rows, cols), ..."""
    rank = draw(st.integers(min_rank, max_rank))
    sizes = tuple(draw(st.integers(1, max_side)) for _ in range(rank))
    channels = draw(st.integers(1, max_channels))
    fmt = draw(st.sampled_from(DATA_FORMATS)) if data_format is None else data_format
    return (*sizes, channels) if fmt == "channels_last" else (channels, *sizes)


def input_shapes() -> SearchStrategy[Shape]:
    """The default strategies' input shapes: `sample_shapes()` (rank 1-3, sides up
    to MAX_SIDE) or `spatial_shapes()` (1-D and 2-D feature maps)."""
    return st.one_of(sample_shapes(), spatial_shapes())


@st.composite
def reshape_targets(draw: DrawFn, size: int, max_rank: int = 4) -> tuple[int, ...]:
    """A Reshape target for `size` values per sample, of rank 1..max_rank, with
    one entry replaced by -1 half of the time."""
    target: list[int] = []
    rest = size
    for _ in range(draw(st.integers(0, max_rank - 1))):
        d = draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0]))
        target.append(d)
        rest //= d
    target.append(rest)
    target = draw(st.permutations(target))
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


def _sample_shape(t: SymbolicTensor) -> Shape:
    return tuple(t.shape[1:])  # type: ignore[arg-type]
