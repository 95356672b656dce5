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
- `spatial_stacks()`: a convnet-like `Sequential`: `Input` of rank 3 or 4 (rank 5,
  volumes, with `input_shapes=spatial_shapes(3, 3)`), 1-4 layers
  mixing convolution, pooling and locally-connected layers (each in either data
  format), then an optional Flatten or global pooling, then a Dense;
- `model_inputs(model)`: float32 arrays that fit the model's inputs
  (`inputs_for(model, batch)` is the same without hypothesis).

Layer makers ship for the core layers (and the activation, normalization and
reshaping families: ReLU/LeakyReLU/ELU, PReLU, Softmax, Batch/Layer/Unit/Group
Normalization, Normalization, Rescaling, RepeatVector, Permute, ZeroPadding,
Cropping and UpSampling in 1-D, 2-D or 3-D by the shape's rank) and for the
spatial ones: Conv1D/2D/3D, Max/AveragePooling1D/2D/3D,
GlobalMax/AveragePooling1D/2D/3D and LocallyConnected1D/2D.
Each spatial maker draws its data format, then options valid for the shape read in
that format: strides or dilation (never both), 'valid', 'same' (uneven pads
included) or 'causal' padding, windows up to the input's side (one more where the
padding makes room); it returns None for a shape of another rank.

Extending to a new layer family is one function per layer: a *layer maker* takes
hypothesis's `draw` and the current sample shape (without the batch axis) and
returns a layer that accepts that shape, or None when it does not apply (a Conv2D
maker returns None for a rank-1 shape). Register it in `LAYER_MAKERS` with
`@register_layer_maker("name")`, or hand a mapping of makers to a strategy's
`makers` argument. The makers that ship live in `layerc/testing/makers/`, one
module per layer family (`core`, `conv`, `pool`, `local`, `activation`,
`normalization`, `reshaping`); every module there is
imported with this package, so a new family is one new file that registers its
makers.

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
every op that sums products (Dense, Conv, LocallyConnected, the recurrent
layers: the op rule's `sums_products`) get a few ulps of seeded noise) exceeds
`max_sensitivity` are rejected too (about 2% of convnets and of functional
graphs, hardly any layer stacks). With both bounds, the worst error seen over
30,000 drawn convnets stayed under a quarter of the tolerance, and over
thousands of layer stacks and functional graphs under a tenth.
"""

from __future__ import annotations

# The reference interpreter and the compiler, bound here because the submodules
# read them on this package at call time (see `_package`): rebinding them here
# (tests monkeypatch them) changes what `assert_compiles_like_reference` and the
# probes call, as it did when this package was one module.
from layerc.compiler import compile as compile_model  # noqa: F401
from layerc.ir import interpret  # noqa: F401
# Private, but imported from here by tests/codegen/cuda/conftest.py.
from layerc.testing.assertions import _as_arrays, _mismatch  # noqa: F401
from layerc.testing.assertions import assert_compiles_like_reference
from layerc.testing.graphs import ELEMENTWISE_MERGES, functional_graphs
from layerc.testing.inputs import INPUT_RANGE, inputs_for, model_inputs
from layerc.testing.limits import (DATA_FORMATS, MAX_CHANNELS, MAX_SIDE, MAX_SPATIAL_SIDE,
                                   MAX_STRIDE, Shape)
from layerc.testing.makers.activation import make_prelu, make_relu, make_softmax
from layerc.testing.makers.base import (LAYER_MAKERS, LayerMaker, dense_layer, draw_layer,
                                        register_layer_maker)
from layerc.testing.makers.conv import make_conv1d, make_conv2d, make_conv3d
from layerc.testing.makers.core import (make_activation, make_dense, make_dropout, make_flatten,
                                        make_reshape)
from layerc.testing.makers.local import make_locally_connected1d, make_locally_connected2d
from layerc.testing.makers.normalization import (make_batch_normalization,
                                                 make_group_normalization,
                                                 make_layer_normalization, make_normalization,
                                                 make_rescaling)
from layerc.testing.makers.pool import (make_average_pooling1d, make_average_pooling2d,
                                        make_average_pooling3d, make_global_average_pooling1d,
                                        make_global_average_pooling2d,
                                        make_global_average_pooling3d, make_global_max_pooling1d,
                                        make_global_max_pooling2d, make_global_max_pooling3d,
                                        make_max_pooling1d, make_max_pooling2d,
                                        make_max_pooling3d)
from layerc.testing.makers.reshaping import (make_cropping, make_permute, make_repeat_vector,
                                             make_up_sampling, make_zero_padding)
from layerc.testing.makers.spatial import feature_map
from layerc.testing.probes import (MAX_MAGNITUDE, MAX_SENSITIVITY, SENSITIVITY_NOISE,
                                   probe_magnitude, probe_sensitivity, reference_values)
from layerc.testing.shapes import input_shapes, reshape_targets, sample_shapes, spatial_shapes
from layerc.testing.stacks import SPATIAL_HEADS, SPATIAL_MAKERS, layer_stacks, spatial_stacks

__all__ = [
    "DATA_FORMATS", "ELEMENTWISE_MERGES", "INPUT_RANGE", "LAYER_MAKERS", "LayerMaker",
    "MAX_CHANNELS", "MAX_MAGNITUDE", "MAX_SENSITIVITY", "MAX_SIDE", "MAX_SPATIAL_SIDE",
    "MAX_STRIDE", "SENSITIVITY_NOISE", "SPATIAL_HEADS", "SPATIAL_MAKERS", "Shape",
    "assert_compiles_like_reference", "dense_layer", "draw_layer", "feature_map",
    "functional_graphs", "input_shapes", "inputs_for", "layer_stacks", "make_activation",
    "make_average_pooling1d", "make_average_pooling2d", "make_average_pooling3d",
    "make_batch_normalization", "make_conv1d", "make_conv2d", "make_conv3d", "make_cropping",
    "make_dense", "make_dropout", "make_flatten", "make_global_average_pooling1d",
    "make_global_average_pooling2d", "make_global_average_pooling3d",
    "make_global_max_pooling1d", "make_global_max_pooling2d", "make_global_max_pooling3d",
    "make_group_normalization", "make_layer_normalization", "make_locally_connected1d",
    "make_locally_connected2d", "make_max_pooling1d", "make_max_pooling2d",
    "make_max_pooling3d", "make_normalization", "make_permute",
    "make_prelu", "make_relu", "make_repeat_vector", "make_rescaling", "make_reshape",
    "make_softmax", "make_up_sampling", "make_zero_padding", "model_inputs",
    "probe_magnitude", "probe_sensitivity", "reference_values", "register_layer_maker",
    "reshape_targets", "sample_shapes", "spatial_shapes", "spatial_stacks",
]
