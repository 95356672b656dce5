"""Property testing for layerc: random valid models, their inputs, and the check
that a compiled model computes what the NumPy reference interpreter computes.

    from hypothesis import given, strategies as st
    from layerc.testing import assert_compiles_like_reference, layer_stacks, model_inputs

    @given(layer_stacks(), st.data())
    def test_stacks(model, data):
        assert_compiles_like_reference(model, data.draw(model_inputs(model)))

Strategies:
- `layer_stacks()`: a `Sequential` of layers from every registered maker (core and
  spatial) over a random input shape (`input_shapes()`: plain shapes of rank 1-3, or
  feature maps of rank 2-3 with sides up to 10 and a few channels, so that the
  convolution, pooling and locally-connected makers apply often);
- `functional_graphs()`: a functional `Model` with 1-3 inputs, merges, concatenations,
  shared layers, several outputs and chains of layers from every registered maker;
- `spatial_stacks()`: a convnet-like `Sequential`: `Input` of rank 3 or 4, 1-4 layers
  mixing convolution, pooling and locally-connected layers (each in either data
  format), then an optional Flatten or global pooling, then a Dense;
- `model_inputs(model)`: float32 arrays that fit the model's inputs
  (`inputs_for(model, batch)` is the same without hypothesis).

Layer makers ship for the core layers and for the spatial ones: Conv1D/2D,
Max/AveragePooling1D/2D, GlobalMax/AveragePooling1D/2D and LocallyConnected1D/2D.
Each spatial maker draws its data format, then options valid for the shape read in
that format: strides or dilation (never both), 'valid', 'same' (uneven pads
included) or 'causal' padding, windows up to the input's side (one more where the
padding makes room); it returns None for a shape of another rank.

Extending to a new layer family is one function per layer: a *layer maker* takes
hypothesis's `draw` and the current sample shape (without the batch axis) and
returns a layer that accepts that shape, or None when it does not apply (a Conv2D
maker returns None for a rank-1 shape). Register it in `LAYER_MAKERS` with
`@register_layer_maker("name")`, or hand a mapping of makers to a strategy's
`makers` argument.

Every weight comes from a seeded initializer whose seed hypothesis draws, so an
example replays to the same numbers and shrinks like any other value. Models whose
values grow beyond `max_magnitude` on a probe input (a chain of `exponential`
activations, say) are rejected: float32 rounding grows with the values, and past
that size it alone can exceed the 1e-5 tolerance, so the comparison would test
luck, not the compiler. Values below that bound are not enough where an
`exponential` reads a sum of large terms (exp(Dense(exp(conv(x))))): the sum's
float32 rounding, a few ulps of its terms, becomes the relative error of the exp,
and such convnets exceeded the tolerance a few times in 10,000 draws. So models
whose `probe_sensitivity` (the output change, in tolerances, when the inputs of
every Dense, Conv and LocallyConnected get a few ulps of seeded noise) exceeds
`max_sensitivity` are rejected too (about 2% of convnets and of functional
graphs, hardly any layer stacks). With both bounds, the worst error seen over
30,000 drawn convnets stayed under a quarter of the tolerance, and over
thousands of layer stacks and functional graphs under a tenth.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from layerc import activations, initializers
from layerc.compiler import compile as compile_model
from layerc.ir import Graph, OpKind, Port, TensorType, interpret, rule_for, to_text
from layerc.layers import (Activation, Add, Average, AveragePooling1D, AveragePooling2D,
                           Concatenate, Conv1D, Conv2D, Dense, Dropout, Flatten,
                           GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D,
                           GlobalMaxPooling2D, Input, LocallyConnected1D, LocallyConnected2D,
                           Maximum, MaxPooling1D, MaxPooling2D, Minimum, Multiply, Reshape,
                           Subtract)
from layerc.layers.base import Layer, SymbolicTensor
from layerc.models import Model, Sequential
from layerc.passes import Pass, PlanMemory

Shape = tuple[int, ...]
"""A sample shape: a tensor's shape without the batch axis."""

MAX_SIDE = 8
"""The largest input side and the most Dense units the default strategies draw."""

MAX_SPATIAL_SIDE = 10
"""The largest spatial side of a drawn feature map, and the largest window
(kernel or pool size) the spatial makers draw."""

MAX_CHANNELS = 4
"""The most channels of a drawn feature map, and the most filters a convolution
or locally-connected maker draws."""

MAX_STRIDE = 3
"""The largest stride and dilation rate the spatial makers draw."""

DATA_FORMATS = ("channels_last", "channels_first")

INPUT_RANGE = (-2.0, 2.0)
"""The default range of input values: moderate, so activations see both their
linear and their saturating parts."""

MAX_MAGNITUDE = 64.0
"""The largest value any tensor of a drawn model may reach on the probe input."""

MAX_SENSITIVITY = 0.1
"""The largest `probe_sensitivity` of a drawn model (in tolerances)."""

SENSITIVITY_NOISE = 2.0**-22
"""The relative noise `probe_sensitivity` puts on every value a summing op reads
(two float32 ulps)."""

_SUMMING_OPS = frozenset({OpKind.DENSE, OpKind.CONV, OpKind.LOCAL})

_SEEDS = st.integers(0, 2**31 - 2)

_INPUT_SALT = 0x1A7E5EED

__all__ = [
    "DATA_FORMATS", "ELEMENTWISE_MERGES", "INPUT_RANGE", "LAYER_MAKERS", "LayerMaker",
    "MAX_CHANNELS", "MAX_MAGNITUDE", "MAX_SENSITIVITY", "MAX_SIDE", "MAX_SPATIAL_SIDE",
    "MAX_STRIDE", "SENSITIVITY_NOISE", "SPATIAL_HEADS", "SPATIAL_MAKERS", "Shape",
    "assert_compiles_like_reference", "dense_layer", "draw_layer", "feature_map",
    "functional_graphs", "input_shapes", "inputs_for", "layer_stacks", "make_activation",
    "make_average_pooling1d", "make_average_pooling2d", "make_conv1d", "make_conv2d", "make_dense",
    "make_dropout", "make_flatten", "make_global_average_pooling1d",
    "make_global_average_pooling2d", "make_global_max_pooling1d", "make_global_max_pooling2d",
    "make_locally_connected1d", "make_locally_connected2d", "make_max_pooling1d",
    "make_max_pooling2d", "make_reshape", "model_inputs", "probe_magnitude", "probe_sensitivity",
    "reference_values", "register_layer_maker", "reshape_targets", "sample_shapes",
    "spatial_shapes", "spatial_stacks",
]


# ----- layer makers -----
class LayerMaker(Protocol):
    """Draws a layer that accepts inputs of `shape` (sample shape), or returns None
    when no layer of its kind applies to that shape."""

    def __call__(self, draw: DrawFn, shape: Shape) -> Layer | None: ...


LAYER_MAKERS: dict[str, LayerMaker] = {}
"""The makers the strategies use when given no `makers`, by name."""


def register_layer_maker(name: str) -> Callable[[LayerMaker], LayerMaker]:
    """Registers a layer maker under `name` (decorator)."""

    def register(maker: LayerMaker) -> LayerMaker:
        if name in LAYER_MAKERS:
            raise ValueError(f"layer maker {name!r} is registered twice")
        LAYER_MAKERS[name] = maker
        return maker

    return register


def dense_layer(draw: DrawFn, units: int | None = None,
                activation_names: Sequence[str] = activations.NAMES) -> Dense:
    """A Dense with drawn units (unless given), activation and bias, and seeded
    weights; the bias is random rather than zero so the bias path is tested."""
    seeded = _seeded_initializers(draw)
    return Dense(draw(st.integers(1, MAX_SIDE)) if units is None else units,
                 activation=draw(st.sampled_from(tuple(activation_names))),
                 use_bias=draw(st.booleans()), **seeded)


def _seeded_initializers(draw: DrawFn) -> dict[str, initializers.Initializer]:
    """Kernel and bias initializers from one drawn seed (Glorot kernel, bias
    uniform in [-0.5, 0.5))."""
    seed = draw(_SEEDS)
    return {"kernel_initializer": initializers.GlorotUniform(seed=seed),
            "bias_initializer": initializers.RandomUniform(-0.5, 0.5, seed=seed + 1)}


@register_layer_maker("dense")
def make_dense(draw: DrawFn, shape: Shape) -> Layer | None:
    return dense_layer(draw)


@register_layer_maker("activation")
def make_activation(draw: DrawFn, shape: Shape) -> Layer | None:
    return Activation(draw(st.sampled_from(activations.NAMES)))


@register_layer_maker("dropout")
def make_dropout(draw: DrawFn, shape: Shape) -> Layer | None:
    rate = draw(st.sampled_from((0.0, 0.1, 0.5, 0.9)))
    noise_shape = None
    if draw(st.booleans()):
        noise_shape = (None, *(draw(st.sampled_from((1, d))) for d in shape))
    return Dropout(rate, noise_shape=noise_shape, seed=draw(st.none() | _SEEDS))


@register_layer_maker("flatten")
def make_flatten(draw: DrawFn, shape: Shape) -> Layer | None:
    return Flatten(data_format=draw(st.sampled_from(("channels_last", "channels_first"))))


@register_layer_maker("reshape")
def make_reshape(draw: DrawFn, shape: Shape) -> Layer | None:
    return Reshape(draw(reshape_targets(math.prod(shape))))


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


# ----- spatial layer makers -----
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


def _activation_and_bias(draw: DrawFn) -> dict[str, Any]:
    return {"activation": draw(st.sampled_from(activations.NAMES)),
            "use_bias": draw(st.booleans()), **_seeded_initializers(draw)}


def _conv(draw: DrawFn, shape: Shape, cls: type[Layer], rank: int,
          paddings: tuple[str, ...]) -> Layer | None:
    if not _applies(shape, rank):
        return None
    data_format = draw(st.sampled_from(DATA_FORMATS))
    sizes = _spatial_sizes(shape, rank, data_format)
    padding = draw(st.sampled_from(paddings))
    strides, dilation = _strides_and_dilation(draw, rank, dilate=True)
    kernel = _windows(draw, sizes, padding, dilation)
    return cls(draw(st.integers(1, MAX_CHANNELS)), _spelled(draw, kernel),
               strides=_spelled(draw, strides), padding=padding, data_format=data_format,
               dilation_rate=_spelled(draw, dilation), **_activation_and_bias(draw))


def _pool(draw: DrawFn, shape: Shape, cls: type[Layer], rank: int) -> Layer | None:
    if not _applies(shape, rank):
        return None
    data_format = draw(st.sampled_from(DATA_FORMATS))
    sizes = _spatial_sizes(shape, rank, data_format)
    padding = draw(st.sampled_from(("valid", "same")))
    pool = _windows(draw, sizes, padding, (1,) * rank)
    strides = None  # the pool size, as Keras defaults it
    if draw(st.booleans()):
        strides = _spelled(draw, tuple(draw(st.integers(1, MAX_STRIDE)) for _ in range(rank)))
    return cls(pool_size=_spelled(draw, pool), strides=strides, padding=padding,
               data_format=data_format)


def _global_pool(draw: DrawFn, shape: Shape, cls: type[Layer], rank: int) -> Layer | None:
    if not _applies(shape, rank):
        return None
    return cls(data_format=draw(st.sampled_from(DATA_FORMATS)), keepdims=draw(st.booleans()))


def _local(draw: DrawFn, shape: Shape, cls: type[Layer], rank: int) -> Layer | None:
    if not _applies(shape, rank):
        return None
    data_format = draw(st.sampled_from(DATA_FORMATS))
    sizes = _spatial_sizes(shape, rank, data_format)
    strides, _ = _strides_and_dilation(draw, rank, dilate=False)
    kernel = _windows(draw, sizes, "valid", (1,) * rank)
    return cls(draw(st.integers(1, MAX_CHANNELS)), _spelled(draw, kernel),
               strides=_spelled(draw, strides), data_format=data_format,
               **_activation_and_bias(draw))


@register_layer_maker("conv1d")
def make_conv1d(draw: DrawFn, shape: Shape) -> Layer | None:
    """Conv1D on a rank-2 shape: either data format, padding valid, same or causal,
    strides or dilation (never both), a kernel up to the input's length."""
    return _conv(draw, shape, Conv1D, 1, ("valid", "same", "causal"))


@register_layer_maker("conv2d")
def make_conv2d(draw: DrawFn, shape: Shape) -> Layer | None:
    """Conv2D on a rank-3 shape, as make_conv1d with padding valid or same and
    options per axis (even kernels with strides give TF's uneven 'same' pads)."""
    return _conv(draw, shape, Conv2D, 2, ("valid", "same"))


@register_layer_maker("max_pooling1d")
def make_max_pooling1d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _pool(draw, shape, MaxPooling1D, 1)


@register_layer_maker("average_pooling1d")
def make_average_pooling1d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _pool(draw, shape, AveragePooling1D, 1)


@register_layer_maker("max_pooling2d")
def make_max_pooling2d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _pool(draw, shape, MaxPooling2D, 2)


@register_layer_maker("average_pooling2d")
def make_average_pooling2d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _pool(draw, shape, AveragePooling2D, 2)


@register_layer_maker("global_max_pooling1d")
def make_global_max_pooling1d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _global_pool(draw, shape, GlobalMaxPooling1D, 1)


@register_layer_maker("global_average_pooling1d")
def make_global_average_pooling1d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _global_pool(draw, shape, GlobalAveragePooling1D, 1)


@register_layer_maker("global_max_pooling2d")
def make_global_max_pooling2d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _global_pool(draw, shape, GlobalMaxPooling2D, 2)


@register_layer_maker("global_average_pooling2d")
def make_global_average_pooling2d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _global_pool(draw, shape, GlobalAveragePooling2D, 2)


@register_layer_maker("locally_connected1d")
def make_locally_connected1d(draw: DrawFn, shape: Shape) -> Layer | None:
    """LocallyConnected1D on a rank-2 shape: either data format, 'valid' windows
    up to the input's length, strides."""
    return _local(draw, shape, LocallyConnected1D, 1)


@register_layer_maker("locally_connected2d")
def make_locally_connected2d(draw: DrawFn, shape: Shape) -> Layer | None:
    return _local(draw, shape, LocallyConnected2D, 2)


SPATIAL_MAKERS: dict[str, LayerMaker] = {
    name: LAYER_MAKERS[name] for name in (
        "conv1d", "conv2d", "max_pooling1d", "average_pooling1d", "max_pooling2d",
        "average_pooling2d", "locally_connected1d", "locally_connected2d")}
"""The makers of the layers that keep a feature map a feature map (convolution,
windowed pooling, locally connected): the body of `spatial_stacks`."""

_CONV_MAKERS = {name: SPATIAL_MAKERS[name] for name in ("conv1d", "conv2d")}

_GLOBAL_POOL_MAKERS: dict[str, LayerMaker] = {
    name: LAYER_MAKERS[name] for name in (
        "global_max_pooling1d", "global_average_pooling1d", "global_max_pooling2d",
        "global_average_pooling2d")}


def draw_layer(draw: DrawFn, makers: Mapping[str, LayerMaker], shape: Shape) -> Layer:
    """A layer from the first maker, in a drawn order, that applies to `shape`."""
    for name in draw(st.permutations(sorted(makers))):
        layer = makers[name](draw, shape)
        if layer is not None:
            return layer
    raise ValueError(f"no layer maker applies to shape {shape}: {', '.join(sorted(makers))}")


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


_input_shapes = input_shapes  # layer_stacks's argument of that name hides it


def _sample_shape(t: SymbolicTensor) -> Shape:
    return tuple(t.shape[1:])  # type: ignore[arg-type]


# ----- models -----
@st.composite
def layer_stacks(draw: DrawFn, makers: Mapping[str, LayerMaker] | None = None,
                 min_layers: int = 1, max_layers: int = 6,
                 input_shapes: SearchStrategy[Shape] | None = None,
                 max_magnitude: float | None = MAX_MAGNITUDE,
                 max_sensitivity: float | None = MAX_SENSITIVITY) -> Sequential:
    """A built Sequential: `Input(shape)` (shape from `input_shapes`, default
    `input_shapes()`) then min_layers..max_layers layers, each drawn from `makers`
    (default `LAYER_MAKERS`) for the shape before it."""
    makers = LAYER_MAKERS if makers is None else makers
    model = Sequential()
    model.add(Input(draw(_input_shapes() if input_shapes is None else input_shapes)))
    for _ in range(draw(st.integers(min_layers, max_layers))):
        model.add(draw_layer(draw, makers, _sample_shape(model.outputs[0])))
    _assume_well_conditioned(model, max_magnitude, max_sensitivity)
    return model


SPATIAL_HEADS = ("flatten", "global pooling", "none")
"""What `spatial_stacks` puts between the feature maps and the final Dense."""


@st.composite
def spatial_stacks(draw: DrawFn, makers: Mapping[str, LayerMaker] | None = None,
                   min_layers: int = 1, max_layers: int = 4,
                   input_shapes: SearchStrategy[Shape] | None = None,
                   heads: Sequence[str] = SPATIAL_HEADS,
                   max_magnitude: float | None = MAX_MAGNITUDE,
                   max_sensitivity: float | None = MAX_SENSITIVITY) -> Sequential:
    """A built convnet-like Sequential: `Input` of a feature map (default
    `spatial_shapes()`: rank 3 or 4 with the batch), min_layers..max_layers layers
    from `makers` (default `SPATIAL_MAKERS`: convolution, windowed pooling and
    locally-connected layers, each drawing its own data format), then a head from
    `heads` (a Flatten in either data format, a global pooling in either data
    format with or without keepdims, or nothing) and a Dense. With the default
    makers, as in real convnets, half of the layers are convolutions."""
    model = Sequential()
    model.add(Input(draw(spatial_shapes() if input_shapes is None else input_shapes)))
    for _ in range(draw(st.integers(min_layers, max_layers))):
        body = makers
        if makers is None:
            body = _CONV_MAKERS if draw(st.booleans()) else SPATIAL_MAKERS
        model.add(draw_layer(draw, body, _sample_shape(model.outputs[0])))
    head = draw(st.sampled_from(tuple(heads)))
    shape = _sample_shape(model.outputs[0])
    if head == "flatten":
        model.add(Flatten(data_format=draw(st.sampled_from(DATA_FORMATS))))
    elif head == "global pooling":
        model.add(draw_layer(draw, _GLOBAL_POOL_MAKERS, shape))
    model.add(dense_layer(draw))
    _assume_well_conditioned(model, max_magnitude, max_sensitivity)
    return model


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
    an element-wise merge, a Concatenate, or a Dense shared by two calls. The
    outputs are the tensors no layer reads (at most max_outputs of them, so a
    few branches may be dead code), sometimes with one more that a layer reads."""
    g = _GraphDraw(draw, LAYER_MAKERS if makers is None else makers)
    base = draw(input_shapes())
    inputs = []
    for _ in range(draw(st.integers(1, max_inputs))):
        kind = draw(st.sampled_from(("same", "last-axis", "other")))
        shape = base if kind == "same" else draw(input_shapes()) if kind == "other" else (
            *base[:-1], draw(st.integers(1, MAX_SIDE)))
        inputs.append(Input(shape))
    g.pool = list(inputs)
    steps = {"chain": g.chain, "merge": g.merge, "concatenate": g.concatenate,
             "shared": g.shared}
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


# ----- inputs -----
def _input_types(model: Model | Graph) -> list[tuple[str, TensorType]]:
    if isinstance(model, Graph):
        return [(i, model.node(i).type) for i in model.inputs]
    return [(t.layer.name, t.type) for t in model.inputs]


def inputs_for(model: Model | Graph, batch: int, seed: int = 0,
               low: float = INPUT_RANGE[0], high: float = INPUT_RANGE[1],
               nan_fraction: float = 0.0) -> list[np.ndarray]:
    """One float32 array of shape (batch, *sample shape) per model input, uniform
    in [low, high) from a generator seeded with `seed`; with nan_fraction > 0
    about that share of the values is NaN.

    The generator is seeded with (seed, a salt), not with `seed` alone: an
    initializer seeded with the same integer (hypothesis often draws one integer
    twice) would otherwise hold the same random sequence as the inputs, and a
    convolution whose kernel equals its input window sums hundreds of terms of one
    sign, far beyond the values the magnitude probe saw."""
    rng = np.random.default_rng((seed, _INPUT_SALT))
    arrays = []
    for name, t in _input_types(model):
        if t.dtype != "float32":
            raise ValueError(f"inputs_for: input {name!r} is {t}; only float inputs are "
                             f"drawn, pass this model's inputs explicitly")
        if any(d is None for d in t.sample_shape):
            raise ValueError(f"inputs_for: input {name!r} has an unknown dimension ({t}); "
                             f"pass this model's inputs explicitly")
        x = rng.uniform(low, high, (batch, *t.sample_shape)).astype(np.float32)
        if nan_fraction > 0:
            x[rng.random(x.shape) < nan_fraction] = np.nan
        arrays.append(x)
    return arrays


@st.composite
def model_inputs(draw: DrawFn, model: Model | Graph, batch: int | None = None,
                 low: float = INPUT_RANGE[0], high: float = INPUT_RANGE[1],
                 allow_nan: bool = False) -> list[np.ndarray]:
    """Inputs for `model`: a batch of 1..5 (unless given) of finite float32 values
    in [low, high); with allow_nan, some examples also hold NaNs."""
    size = draw(st.integers(1, 5)) if batch is None else batch
    nan = 0.1 if allow_nan and draw(st.booleans()) else 0.0
    return inputs_for(model, size, draw(st.integers(0, 2**32 - 1)), low, high, nan)


# ----- the reference -----
def _graph(model: Model | Graph) -> Graph:
    return model if isinstance(model, Graph) else model.to_graph()


def reference_values(model: Model | Graph, inputs: Sequence[np.ndarray]
                     ) -> dict[Port, np.ndarray]:
    """Every tensor of the traced model (before any pass) on `inputs`, computed by
    the reference interpreter, by port."""
    graph = _graph(model).copy()
    graph.outputs = [n.port(i) for n in graph.nodes() for i in range(len(n.types))]
    values = interpret(graph, [np.asarray(x, np.float32) for x in inputs])
    return dict(zip(graph.outputs, values))


def probe_magnitude(model: Model | Graph, batch: int = 4) -> float:
    """The largest |value| of any tensor of the model on a probe batch (random
    inputs over INPUT_RANGE, plus samples at its two ends); inf when a value is
    not finite."""
    xs = _probe_inputs(model, batch)
    largest = 0.0
    with np.errstate(all="ignore"):
        for value in reference_values(model, xs).values():
            if value.size == 0:
                continue
            if not np.all(np.isfinite(value)):
                return math.inf
            largest = max(largest, float(np.max(np.abs(value))))
    return largest


def _assume_well_conditioned(model: Model, max_magnitude: float | None,
                             max_sensitivity: float | None) -> None:
    """Rejects (hypothesis's assume) a model whose values or whose rounding
    sensitivity exceed the bounds (None: no bound)."""
    if max_magnitude is not None:
        assume(probe_magnitude(model) <= max_magnitude)
    if max_sensitivity is not None:
        assume(probe_sensitivity(model) <= max_sensitivity)


def _probe_inputs(model: Model | Graph, batch: int) -> list[np.ndarray]:
    xs = inputs_for(model, batch)
    for x in xs:
        x[0] = INPUT_RANGE[0]
        x[-1] = INPUT_RANGE[1]
    return xs


def probe_sensitivity(model: Model | Graph, batch: int = 32, atol: float = 1e-5,
                      rtol: float = 1e-5) -> float:
    """How far rounding alone may move the model's outputs, in units of the
    tolerance `atol + rtol * |reference|`: the reference interpreter runs on a
    probe batch (random inputs over INPUT_RANGE and samples at its two ends) once
    as is and once with every value a Dense, Conv or LocallyConnected reads scaled
    by a seeded random 1 + u * SENSITIVITY_NOISE, |u| <= 1 (what a backend summing
    in float32 may differ by), and this is the largest output change; inf when a
    value is not finite. The batch is large so the probe meets the inputs that
    make the model most sensitive about as often as a test's inputs do."""
    graph = _graph(model)
    rng = np.random.default_rng(0)

    def nudged(x: np.ndarray) -> np.ndarray:
        if x.dtype.kind != "f":
            return x  # indices stay exact
        noise = rng.uniform(-SENSITIVITY_NOISE, SENSITIVITY_NOISE, x.shape)
        return (x * (1.0 + noise)).astype(x.dtype)

    xs = _probe_inputs(model, batch)
    with np.errstate(all="ignore"):
        want = interpret(graph, xs)
        values: dict[Port, np.ndarray] = {Port(i, 0): x for i, x in zip(graph.inputs, xs)}
        for node in graph.nodes():
            if node.op is OpKind.INPUT:
                continue
            xs = [values[p] for p in node.inputs]
            if node.op in _SUMMING_OPS:
                xs = [nudged(x) for x in xs]
            outs = rule_for(node.op).reference(node.attrs, xs,
                                               [graph.weights[w] for w in node.weights])
            values.update((node.port(i), out) for i, out in enumerate(outs))
        worst = 0.0
        for port, w in zip(graph.outputs, want):
            got = values[port]
            if w.size == 0:
                continue
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(got))):
                return math.inf
            change = np.abs(got.astype(np.float64) - w) / (atol + rtol * np.abs(w))
            worst = max(worst, float(np.max(change)))
    return worst


# ----- the check -----
def _as_arrays(model: Model | Graph, inputs: Any) -> list[np.ndarray]:
    """The inputs as one float32 array per model input (a dict goes by input name)."""
    if isinstance(inputs, dict):
        inputs = [inputs[name] for name, _ in _input_types(model)]
    elif isinstance(inputs, np.ndarray) or not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    return [np.ascontiguousarray(x, dtype=np.float32) for x in inputs]


def _mismatch(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> str:
    """'' when `got` is close to `want`; otherwise what differs, and where."""
    if got.shape != want.shape:
        return f"shape {got.shape} differs from the reference's {want.shape}"
    if got.dtype != np.float32:
        return f"dtype {got.dtype}, expected float32"
    close = np.isclose(got, want, atol=atol, rtol=rtol, equal_nan=True)
    if close.all():
        return ""
    with np.errstate(all="ignore"):
        error = np.abs(got.astype(np.float64) - want.astype(np.float64))
    error = np.where(close, 0.0, np.nan_to_num(error, nan=np.inf))
    where = np.unravel_index(int(np.argmax(error)), error.shape)
    return (f"{int((~close).sum())} of {close.size} values out of tolerance (atol={atol:g}, "
            f"rtol={rtol:g}); max abs error {float(error[where]):.6g} at index "
            f"{tuple(int(i) for i in where)}: compiled {float(got[where]):.9g}, "
            f"reference {float(want[where]):.9g}")


def assert_compiles_like_reference(model: Model | Graph, inputs: Any = None,
                                   atol: float = 1e-5, rtol: float = 1e-5,
                                   batch_size: int | None = None) -> None:
    """Asserts that `model` compiled for the CPU predicts what the reference
    interpreter (`layerc.ir.interpret` on the traced graph) computes, output by
    output, within `atol + rtol * |reference|` (NaN must meet NaN).

    Two compilations are checked: the default pipeline, and plan-memory alone
    (the one pass code generation needs), so the lowerings of the ops that the
    other passes remove or fuse (Dropout, Reshape, Flatten, Activation) run too.
    `inputs` is an array, a list of arrays (one per model input) or a dict by
    input name; when None, a batch of 3 is drawn from a seeded generator.
    `batch_size` is handed to `predict`, so a smaller one runs the batch in chunks.
    Also fails when `predict` writes into its inputs.
    """
    xs = inputs_for(model, 3) if inputs is None else _as_arrays(model, inputs)
    graph = _graph(model)
    with np.errstate(all="ignore"):  # NaN and overflow are the reference's to compute
        want = interpret(graph, xs)
    pipelines: tuple[tuple[str, Sequence[Pass] | None], ...] = (
        ("the default pipeline", None), ("plan-memory alone", (PlanMemory(),)))
    for label, passes in pipelines:
        compiled = compile_model(model, passes=passes)
        before = [x.copy() for x in xs]
        got = compiled.predict(xs, batch_size=batch_size)
        got = got if isinstance(got, list) else [got]
        for i, (x, kept) in enumerate(zip(xs, before)):
            if not np.array_equal(x, kept, equal_nan=True):
                raise AssertionError(f"compiled with {label}, predict wrote into input {i}")
        if len(got) != len(want):
            raise AssertionError(f"compiled with {label}, the model gives {len(got)} outputs; "
                                 f"the reference gives {len(want)}")
        for i, (g, w, port) in enumerate(zip(got, want, graph.outputs)):
            problem = _mismatch(np.asarray(g), np.asarray(w), atol, rtol)
            if problem:
                node = graph.node(port.node)
                raise AssertionError(
                    f"compiled with {label} (batch_size={batch_size}), output {i} of "
                    f"{len(want)} ({port}, {node.label}, {graph.type_of(port)}) differs from "
                    f"the reference interpreter on inputs of shapes "
                    f"{[x.shape for x in xs]}: {problem}\ngraph:\n{to_text(graph)}")
