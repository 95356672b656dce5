"""Sequential strategies: `layer_stacks` (layers from every registered maker) and
`spatial_stacks` (convnet-like: spatial layers, a head, a Dense)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from layerc.layers import Flatten, Input
from layerc.models import Sequential
from layerc.testing._package import package
from layerc.testing.limits import DATA_FORMATS, Shape
from layerc.testing.makers.base import LAYER_MAKERS, LayerMaker, dense_layer, draw_layer
from layerc.testing.probes import MAX_MAGNITUDE, MAX_SENSITIVITY, _assume_well_conditioned
from layerc.testing.shapes import _sample_shape, spatial_shapes
from layerc.testing.shapes import input_shapes as _input_shapes  # an argument hides the name

# Built once at import, from the makers registered by then (every module of
# layerc.testing.makers: the package imports them before this module).
SPATIAL_MAKERS: dict[str, LayerMaker] = {
    name: LAYER_MAKERS[name] for name in (
        "conv1d", "conv2d", "conv3d", "max_pooling1d", "average_pooling1d", "max_pooling2d",
        "average_pooling2d", "max_pooling3d", "average_pooling3d", "locally_connected1d",
        "locally_connected2d", "batch_normalization")}
"""The makers of the layers that keep a feature map a feature map (convolution,
windowed pooling, locally connected, batch normalization): the body of
`spatial_stacks`."""

_CONV_MAKERS = {name: SPATIAL_MAKERS[name] for name in ("conv1d", "conv2d", "conv3d")}

_GLOBAL_POOL_MAKERS: dict[str, LayerMaker] = {
    name: LAYER_MAKERS[name] for name in (
        "global_max_pooling1d", "global_average_pooling1d", "global_max_pooling2d",
        "global_average_pooling2d", "global_max_pooling3d", "global_average_pooling3d")}

SPATIAL_HEADS = ("flatten", "global pooling", "none")
"""What `spatial_stacks` puts between the feature maps and the final Dense."""


@st.composite
def layer_stacks(draw: DrawFn, makers: Mapping[str, LayerMaker] | None = None,
                 min_layers: int = 1, max_layers: int = 6,
                 input_shapes: SearchStrategy[Shape] | None = None,
                 max_magnitude: float | None = MAX_MAGNITUDE,
                 max_sensitivity: float | None = MAX_SENSITIVITY) -> Sequential:
    """A built Sequential: `Input(shape)` (shape from `input_shapes`, default
    `input_shapes()`) then min_layers..max_layers layers, each drawn from `makers`
    (default `LAYER_MAKERS`) for the shape before it."""
    makers = package().LAYER_MAKERS if makers is None else makers
    model = Sequential()
    model.add(Input(draw(_input_shapes() if input_shapes is None else input_shapes)))
    for _ in range(draw(st.integers(min_layers, max_layers))):
        model.add(draw_layer(draw, makers, _sample_shape(model.outputs[0])))
    _assume_well_conditioned(model, max_magnitude, max_sensitivity)
    return model


@st.composite
def spatial_stacks(draw: DrawFn, makers: Mapping[str, LayerMaker] | None = None,
                   min_layers: int = 1, max_layers: int = 4,
                   input_shapes: SearchStrategy[Shape] | None = None,
                   heads: Sequence[str] = SPATIAL_HEADS,
                   max_magnitude: float | None = MAX_MAGNITUDE,
                   max_sensitivity: float | None = MAX_SENSITIVITY) -> Sequential:
    """A built convnet-like Sequential: `Input` of a feature map (default
    `spatial_shapes()`: rank 3 or 4 with the batch; `spatial_shapes(3, 3)`
    gives volumes for the 3-D layers), min_layers..max_layers layers
    from `makers` (default `SPATIAL_MAKERS`: convolution, windowed pooling and
    locally-connected layers, each drawing its own data format), then a head from
    `heads` (a Flatten in either data format, a global pooling in either data
    format with or without keepdims, or nothing) and a Dense. With the default
    makers, as in real convnets, half of the layers are convolutions."""
    model = Sequential()
    model.add(Input(draw(spatial_shapes() if input_shapes is None else input_shapes)))
    for _ in range(draw(st.integers(min_layers, max_layers))):
        body: Mapping[str, LayerMaker]
        if makers is None:
            body = _CONV_MAKERS if draw(st.booleans()) else SPATIAL_MAKERS
        else:
            body = makers
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
