"""Property testing for layerc: random valid models, their inputs, and the check
that a compiled model computes what the NumPy reference interpreter computes.

    from hypothesis import given, strategies as st
    from layerc.testing import assert_compiles_like_reference, layer_stacks, model_inputs

    @given(layer_stacks(), st.data())
    def test_stacks(model, data):
        assert_compiles_like_reference(model, data.draw(model_inputs(model)))

Strategies:
- `layer_stacks()`: a `Sequential` of core layers over a random input shape;
- `functional_graphs()`: a functional `Model` with 1-3 inputs, merges, concatenations,
  shared layers, several outputs and chains of core layers;
- `model_inputs(model)`: float32 arrays that fit the model's inputs
  (`inputs_for(model, batch)` is the same without hypothesis).

Extending to a new layer family is one function per layer: a *layer maker* takes
hypothesis's `draw` and the current sample shape (without the batch axis) and
returns a layer that accepts that shape, or None when it does not apply (a Conv2D
maker returns None for a rank-1 shape). Register it in `LAYER_MAKERS` with
`@register_layer_maker("conv2d")`, or hand a mapping of makers to a strategy's
`makers` argument.

Every weight comes from a seeded initializer whose seed hypothesis draws, so an
example replays to the same numbers and shrinks like any other value. Models whose
values grow beyond `max_magnitude` on a probe input (a chain of `exponential`
activations, say) are rejected: float32 rounding grows with the values, and past
that size it alone can exceed the 1e-5 tolerance, so the comparison would test
luck, not the compiler. Below it, the worst error seen over thousands of drawn
models stays under a tenth of the tolerance.
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
from layerc.ir import Graph, Port, TensorType, interpret, to_text
from layerc.layers import (Activation, Add, Average, Concatenate, Dense, Dropout, Flatten,
                           Input, Maximum, Minimum, Multiply, Reshape, Subtract)
from layerc.layers.base import Layer, SymbolicTensor
from layerc.models import Model, Sequential
from layerc.passes import Pass, PlanMemory

Shape = tuple[int, ...]
"""A sample shape: a tensor's shape without the batch axis."""

MAX_SIDE = 8
"""The largest input side and the most Dense units the default strategies draw."""

INPUT_RANGE = (-2.0, 2.0)
"""The default range of input values: moderate, so activations see both their
linear and their saturating parts."""

MAX_MAGNITUDE = 64.0
"""The largest value any tensor of a drawn model may reach on the probe input."""

_SEEDS = st.integers(0, 2**31 - 2)

__all__ = [
    "ELEMENTWISE_MERGES", "INPUT_RANGE", "LAYER_MAKERS", "LayerMaker", "MAX_MAGNITUDE",
    "MAX_SIDE", "Shape", "assert_compiles_like_reference", "dense_layer", "draw_layer",
    "functional_graphs", "inputs_for", "layer_stacks", "make_activation", "make_dense",
    "make_dropout", "make_flatten", "make_reshape", "model_inputs", "probe_magnitude",
    "reference_values", "register_layer_maker", "reshape_targets", "sample_shapes",
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
    seed = draw(_SEEDS)
    return Dense(draw(st.integers(1, MAX_SIDE)) if units is None else units,
                 activation=draw(st.sampled_from(tuple(activation_names))),
                 use_bias=draw(st.booleans()),
                 kernel_initializer=initializers.GlorotUniform(seed=seed),
                 bias_initializer=initializers.RandomUniform(-0.5, 0.5, seed=seed + 1))


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


def _sample_shape(t: SymbolicTensor) -> Shape:
    return tuple(t.shape[1:])  # type: ignore[arg-type]


# ----- models -----
@st.composite
def layer_stacks(draw: DrawFn, makers: Mapping[str, LayerMaker] | None = None,
                 min_layers: int = 1, max_layers: int = 6,
                 input_shapes: SearchStrategy[Shape] | None = None,
                 max_magnitude: float | None = MAX_MAGNITUDE) -> Sequential:
    """A built Sequential: `Input(shape)` then min_layers..max_layers layers, each
    drawn from `makers` (default `LAYER_MAKERS`) for the shape before it."""
    makers = LAYER_MAKERS if makers is None else makers
    model = Sequential()
    model.add(Input(draw(sample_shapes() if input_shapes is None else input_shapes)))
    for _ in range(draw(st.integers(min_layers, max_layers))):
        model.add(draw_layer(draw, makers, _sample_shape(model.outputs[0])))
    if max_magnitude is not None:
        assume(probe_magnitude(model) <= max_magnitude)
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
                      max_magnitude: float | None = MAX_MAGNITUDE) -> Model:
    """A functional Model: 1..max_inputs Inputs (often of one shape, so they
    merge), then 1..max_steps steps, each a chain of 1-3 layers from `makers`,
    an element-wise merge, a Concatenate, or a Dense shared by two calls. The
    outputs are the tensors no layer reads (at most max_outputs of them, so a
    few branches may be dead code), sometimes with one more that a layer reads."""
    g = _GraphDraw(draw, LAYER_MAKERS if makers is None else makers)
    base = draw(sample_shapes())
    inputs = []
    for _ in range(draw(st.integers(1, max_inputs))):
        kind = draw(st.sampled_from(("same", "last-axis", "other")))
        shape = base if kind == "same" else draw(sample_shapes()) if kind == "other" else (
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
    if max_magnitude is not None:
        assume(probe_magnitude(model) <= max_magnitude)
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
    about that share of the values is NaN."""
    rng = np.random.default_rng(seed)
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
    xs = inputs_for(model, batch)
    for x in xs:
        x[0] = INPUT_RANGE[0]
        x[-1] = INPUT_RANGE[1]
    largest = 0.0
    with np.errstate(all="ignore"):
        for value in reference_values(model, xs).values():
            if value.size == 0:
                continue
            if not np.all(np.isfinite(value)):
                return math.inf
            largest = max(largest, float(np.max(np.abs(value))))
    return largest


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
