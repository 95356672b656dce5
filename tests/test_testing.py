"""layerc.testing: the strategies draw valid models and inputs that fit them, reach
every layer and option they promise, and the reference check passes when the
compiled model agrees and fails, saying where, when it does not."""

import dataclasses

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import layerc
from layerc import testing
from layerc.codegen.cpu.lower import LOWERINGS
from layerc.ir import OpKind, interpret, verify
from layerc.ir.ops.core import resolve_target
from layerc.ir.ops.spatial import pads_for, window_output
from layerc.layers import (Activation, Add, Concatenate, Dense, Dropout, Flatten, Input,
                           Reshape)
from layerc.testing import (DATA_FORMATS, INPUT_RANGE, LAYER_MAKERS, MAX_CHANNELS,
                            MAX_MAGNITUDE, MAX_SENSITIVITY, MAX_SPATIAL_SIDE, MAX_STRIDE,
                            SPATIAL_MAKERS, assert_compiles_like_reference, feature_map,
                            functional_graphs, input_shapes, inputs_for, layer_stacks,
                            model_inputs, probe_magnitude, probe_sensitivity,
                            reference_values, register_layer_maker, reshape_targets,
                            spatial_shapes, spatial_stacks)

DRAWS = settings(deadline=None, max_examples=30)
SEARCH = settings(deadline=None, max_examples=1000, database=None, derandomize=True)
CORE = {"Dense", "Activation", "Dropout", "Flatten", "Reshape"}
MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
          "MultiHeadAttention", "GroupedQueryAttention", "Attention", "AdditiveAttention"}
WINDOWED = {"Conv1D", "Conv2D", "MaxPooling1D", "AveragePooling1D", "MaxPooling2D",
            "AveragePooling2D", "LocallyConnected1D", "LocallyConnected2D"}
GLOBAL_POOLS = {"GlobalMaxPooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling2D",
                "GlobalAveragePooling2D"}
SPATIAL = WINDOWED | GLOBAL_POOLS
# The 3-D family: drawn on volumes (rank-4 sample shapes), which the default
# input shapes hold only after a Reshape.
SPATIAL_3D = {"Conv3D", "MaxPooling3D", "AveragePooling3D", "GlobalMaxPooling3D",
              "GlobalAveragePooling3D"}
# The 3-D layers only the family makers draw (the moves and the transposed
# convolution): layer_stacks reaches them on volumes, spatial_stacks does not.
FAMILY_3D = {"ZeroPadding3D", "Cropping3D", "UpSampling3D", "Conv3DTranspose"}
# The normalization, activation and reshaping layers the core makers draw too
# (BatchNormalization is a spatial maker as well).
NORMALIZATION = {"BatchNormalization", "Rescaling", "LayerNormalization", "UnitNormalization",
                 "GroupNormalization", "Normalization", "ReLU", "LeakyReLU", "ELU", "PReLU",
                 "Softmax", "RepeatVector", "Permute", "ZeroPadding1D", "ZeroPadding2D",
                 "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "DepthwiseConv1D",
                 "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Conv1DTranspose",
                 "Conv2DTranspose"}
# The makers of the activation, normalization and reshaping families. The
# searches for core, spatial and merge options draw without them, so that
# those options stay as reachable (and the searches as short) as before the
# families joined; test_default_draws_reach_every_family_layer covers them.
FAMILY_MAKERS = {"relu", "prelu", "softmax", "layer_normalization", "group_normalization",
                 "normalization", "permute", "zero_padding", "cropping", "up_sampling",
                 "depthwise_conv", "separable_conv", "conv_transpose", "conv3d",
                 "max_pooling3d", "average_pooling3d", "global_max_pooling3d",
                 "global_average_pooling3d"}
MERGE_OPS = (OpKind.ADD, OpKind.SUBTRACT, OpKind.MULTIPLY, OpKind.AVERAGE, OpKind.MAXIMUM,
             OpKind.MINIMUM, OpKind.CONCATENATE)
SPATIAL_MAKER_NAMES = sorted(name for name in LAYER_MAKERS if name[-2:] in ("1d", "2d", "3d"))


def classic_makers():
    return {name: maker for name, maker in LAYER_MAKERS.items() if name not in FAMILY_MAKERS}


def layers_of(model):
    return [layer for layer in model.layers if layer.kind != "InputLayer"]


def outputs_match_types(model, batch=2):
    outs = interpret(model.to_graph(), inputs_for(model, batch))
    return [o.shape for o in outs] == [(batch, *t.shape[1:]) for t in model.outputs]


# ----- layer_stacks -----
@DRAWS
@given(layer_stacks())
def test_layer_stacks_are_built_sequentials_of_core_and_spatial_layers(model):
    assert isinstance(model, layerc.Sequential) and model.built
    assert 1 <= len(model.layers) <= 6
    assert {layer.kind for layer in model.layers} <= (CORE | SPATIAL | NORMALIZATION
                                                      | SPATIAL_3D | FAMILY_3D)
    shape = model.input_shape
    assert shape[0] is None and 1 <= len(shape) - 1 <= 3
    assert all(1 <= d <= MAX_SPATIAL_SIDE for d in shape[1:])
    for before, after in zip(model.layers, model.layers[1:]):
        assert after.input_shape == before.output_shape
    verify(model.to_graph())
    assert outputs_match_types(model)
    assert probe_magnitude(model) <= MAX_MAGNITUDE


def missing_features(strategy, features, examples=300):
    """The names of `features` (predicates on a model and its graph) that none of
    `examples` deterministic draws of `strategy` has."""
    seen = set()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate])
    @given(strategy)
    def collect(model):
        graph = model.to_graph()
        seen.update(name for name, has in features.items() if has(model, graph))

    collect()
    return set(features) - seen


def has_layer(kind, test=lambda layer: True):
    return lambda model, graph: any(layer.kind == kind and test(layer)
                                    for layer in model.layers)


def has_node(op, test=lambda graph, node: True):
    return lambda model, graph: any(node.op is op and test(graph, node)
                                    for node in graph.nodes())


def test_layer_stacks_reach_every_core_layer_and_option():
    def input_rank(rank):
        return lambda model, graph: len(model.input_shape) == rank + 1

    features = {
        "Dense without bias": has_layer("Dense", lambda layer: not layer.use_bias),
        "Dense with softmax": has_layer("Dense", lambda layer: layer.activation == "softmax"),
        "Dense on rank 3": has_layer("Dense", lambda layer: len(layer.input_shape) == 4),
        "Activation": has_layer("Activation"),
        "Dropout": has_layer("Dropout"),
        "Dropout with noise_shape": has_layer("Dropout", lambda layer: layer.noise_shape),
        "Flatten channels_first of rank 3": has_layer(
            "Flatten", lambda layer: layer.data_format == "channels_first"
            and len(layer.input_shape) == 4),
        "Flatten channels_last of rank 2": has_layer(
            "Flatten", lambda layer: layer.data_format == "channels_last"
            and len(layer.input_shape) == 3),
        "Reshape with -1": has_layer("Reshape", lambda layer: -1 in layer.target_shape),
        "Reshape without -1 to rank 3": has_layer(
            "Reshape", lambda layer: -1 not in layer.target_shape
            and len(layer.target_shape) == 3),
        "input rank 1": input_rank(1),
        "input rank 2": input_rank(2),
        "input rank 3": input_rank(3),
        "six layers": lambda model, graph: len(model.layers) == 6,
    }
    features.update({f"activation {name}": has_node(
        OpKind.ACTIVATION, lambda graph, node, name=name: node.attrs.activation == name)
        for name in layerc.activations.NAMES if name not in ("linear", "glu")})
    features["activation glu"] = has_node(OpKind.GLU)
    assert missing_features(layer_stacks(makers=classic_makers()), features) == set()


def test_default_draws_reach_every_family_layer():
    kinds = NORMALIZATION - {"BatchNormalization", "Rescaling", "RepeatVector"}
    features = {kind: has_layer(kind) for kind in kinds}
    features["bilinear upsampling"] = has_layer(
        "UpSampling2D", lambda layer: layer.interpolation == "bilinear")
    features["RMS scaling"] = has_layer("LayerNormalization", lambda layer: layer.rms_scaling)
    assert missing_features(layer_stacks(), features, examples=600) == set()


def test_layer_stacks_reach_every_spatial_layer():
    features = {kind: has_layer(kind) for kind in SPATIAL}
    features.update({f"a windowed layer {fmt}": lambda model, graph, fmt=fmt: any(
        layer.kind in WINDOWED and layer.data_format == fmt for layer in model.layers)
        for fmt in DATA_FORMATS})
    features["input of a 2-D feature map, 10 on a side"] = lambda model, graph: (
        len(model.input_shape) == 4 and MAX_SPATIAL_SIDE in model.input_shape)
    features["a spatial layer after a core layer"] = lambda model, graph: any(
        before.kind in CORE and after.kind in SPATIAL
        for before, after in zip(model.layers, model.layers[1:]))
    assert missing_features(layer_stacks(), features, examples=500) == set()


@DRAWS
@given(st.data())
def test_layer_stacks_take_their_makers(data):
    relu = data.draw(layer_stacks(makers={"relu": lambda draw, shape: Activation("relu")}))
    assert all(layer.kind == "Activation" and layer.activation == "relu"
               for layer in relu.layers)
    # A maker that declines a shape is skipped, as a Conv2D maker declines rank 1.
    makers = {"never": lambda draw, shape: None,
              "flatten-rank-3": lambda draw, shape: Flatten() if len(shape) == 3 else None,
              "relu": lambda draw, shape: Activation("relu")}
    model = data.draw(layer_stacks(makers=makers, min_layers=3, max_layers=3))
    assert len(model.layers) == 3
    for layer in model.layers:
        assert layer.kind == "Activation" or len(layer.input_shape) == 4


def test_layer_stacks_need_a_maker_that_applies():
    with pytest.raises(ValueError, match="no layer maker applies"):
        find(layer_stacks(makers={"never": lambda draw, shape: None}), lambda model: True,
             settings=settings(database=None, max_examples=5))


def test_registered_makers_join_the_default_draws(monkeypatch):
    monkeypatch.setattr(testing, "LAYER_MAKERS", dict(LAYER_MAKERS))

    @register_layer_maker("dropout-quarter")
    def make_dropout_quarter(draw, shape):
        return Dropout(0.25)  # a rate the default dropout maker never draws

    assert testing.LAYER_MAKERS["dropout-quarter"] is make_dropout_quarter
    with pytest.raises(ValueError, match="registered twice"):
        register_layer_maker("dropout-quarter")(make_dropout_quarter)
    assert missing_features(layer_stacks(), {"quarter": has_layer(
        "Dropout", lambda layer: layer.rate == 0.25)}) == set()


@DRAWS
@given(st.integers(1, 600), st.data())
def test_reshape_targets_hold_the_size(size, data):
    target = data.draw(reshape_targets(size))
    assert 1 <= len(target) <= 4
    assert target.count(-1) <= 1
    assert np.prod(resolve_target(target, size)) == size


# ----- spatial makers and shapes -----
def window_of(layer):
    return getattr(layer, "kernel_size", None) or layer.pool_size


def spatial_sizes(layer):
    """The spatial sizes of a windowed layer's input, read in its data format."""
    sizes, _ = feature_map(layer.input_shape[1:], len(window_of(layer)), layer.data_format)
    return sizes


def same_pads(layer):
    dilation = getattr(layer, "dilation_rate", (1,) * len(window_of(layer)))
    return [pads_for(n, k, s, d, "same") for n, k, s, d in
            zip(spatial_sizes(layer), window_of(layer), layer.strides, dilation)]


@DRAWS
@given(spatial_shapes(), st.data())
def test_spatial_makers_draw_layers_that_build_on_their_shape(shape, data):
    name = data.draw(st.sampled_from(SPATIAL_MAKER_NAMES), label="maker")
    layer = LAYER_MAKERS[name](data.draw, shape)
    rank = int(name[-2])
    if len(shape) != rank + 1:
        assert layer is None
        return
    model = layerc.Sequential([Input(shape), layer])  # raises on an invalid option
    verify(model.to_graph())
    assert outputs_match_types(model)
    assert layer.data_format in DATA_FORMATS
    if layer.kind in GLOBAL_POOLS:
        return
    window = window_of(layer)
    assert len(window) == rank and max(window) <= MAX_SPATIAL_SIDE
    assert max(layer.strides) <= MAX_STRIDE
    dilation = getattr(layer, "dilation_rate", (1,) * rank)
    assert max(layer.strides) == 1 or max(dilation) == 1
    if layer.padding == "valid":
        assert all((k - 1) * d + 1 <= n for k, d, n in zip(window, dilation,
                                                           spatial_sizes(layer)))
    if hasattr(layer, "filters"):
        assert 1 <= layer.filters <= MAX_CHANNELS


@DRAWS
@given(st.sampled_from(SPATIAL_MAKER_NAMES),
       st.sampled_from([(3,), (2, 3), (1, 1), (2, 3, 4), (1, 1, 1), (2, 2, 2, 2)]), st.data())
def test_spatial_makers_apply_to_their_rank_only(name, shape, data):
    made = LAYER_MAKERS[name](data.draw, shape)
    assert (made is None) == (len(shape) != int(name[-2]) + 1)
    if made is not None:
        layerc.Sequential([Input(shape), made])


@DRAWS
@given(spatial_shapes())
def test_spatial_shapes_are_feature_maps_with_a_few_channels(shape):
    assert 2 <= len(shape) <= 3
    assert all(1 <= d <= MAX_SPATIAL_SIDE for d in shape)
    assert min(shape[0], shape[-1]) <= MAX_CHANNELS


def test_input_shapes_reach_plain_and_spatial_shapes():
    seen = set()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate])
    @given(input_shapes())
    def collect(shape):
        seen.add((len(shape), max(shape) > 8))

    collect()
    assert seen >= {(1, False), (2, False), (3, False), (2, True), (3, True)}


# ----- spatial_stacks -----
@DRAWS
@given(spatial_stacks())
def test_spatial_stacks_are_convnets(model):
    assert isinstance(model, layerc.Sequential) and model.built
    rank = len(model.input_shape) - 2
    assert rank in (1, 2)
    kinds = [layer.kind for layer in model.layers]
    assert kinds[-1] == "Dense"
    body = kinds[:-2] if kinds[-2] in GLOBAL_POOLS | {"Flatten"} else kinds[:-1]
    assert 1 <= len(body) <= 4
    assert all(kind in NORMALIZATION or kind in WINDOWED and kind.endswith(f"{rank}D")
               for kind in body)
    if kinds[-2] in GLOBAL_POOLS:
        assert kinds[-2].endswith(f"{rank}D")
    verify(model.to_graph())
    assert outputs_match_types(model)
    assert probe_magnitude(model) <= MAX_MAGNITUDE
    assert probe_sensitivity(model) <= MAX_SENSITIVITY


def test_spatial_stacks_reach_every_spatial_layer_and_option():
    def layer(kind, test=lambda layer: True):
        return has_layer(kind, test)

    def conv(test):
        return lambda model, graph: any(
            layer.kind in ("Conv1D", "Conv2D") and test(layer) for layer in model.layers)

    def pool(test):
        return lambda model, graph: any(
            "Pooling" in layer.kind and "Global" not in layer.kind and test(layer)
            for layer in model.layers)

    def uneven(layer):
        return layer.padding == "same" and any(a != b for a, b in same_pads(layer))

    def formats_mixed(model, graph):
        return len({layer.data_format for layer in model.layers
                    if hasattr(layer, "data_format") and layer.kind != "Flatten"}) == 2

    def input_rank(rank):
        return lambda model, graph: len(model.input_shape) == rank + 2

    features = {f"{kind} {fmt}": layer(kind, lambda l, fmt=fmt: l.data_format == fmt)
                for kind in SPATIAL for fmt in DATA_FORMATS}
    features.update({
        "Conv1D causal with strides": layer(
            "Conv1D", lambda l: l.padding == "causal" and l.strides[0] > 1),
        "Conv1D causal dilated": layer(
            "Conv1D", lambda l: l.padding == "causal" and l.dilation_rate[0] > 1),
        "Conv1D same dilated": layer(
            "Conv1D", lambda l: l.padding == "same" and l.dilation_rate[0] > 1),
        "Conv2D valid dilated on one axis": layer(
            "Conv2D", lambda l: l.padding == "valid" and sorted(l.dilation_rate)[0] == 1
            and max(l.dilation_rate) > 1),
        "Conv2D even kernel, strides, uneven same pads": layer(
            "Conv2D", lambda l: uneven(l) and max(l.strides) > 1
            and any(k % 2 == 0 for k in l.kernel_size)),
        "Conv1D uneven same pads": layer("Conv1D", uneven),
        "Conv2D with different strides per axis": layer(
            "Conv2D", lambda l: l.strides[0] != l.strides[1]),
        "conv kernel as large as the input (valid)": conv(
            lambda l: l.padding == "valid" and l.kernel_size == spatial_sizes(l)
            and max(l.kernel_size) > 1),
        "conv kernel larger than the input (same)": conv(
            lambda l: l.padding == "same" and any(
                k > n for k, n in zip(l.kernel_size, spatial_sizes(l)))),
        "conv 1x1, stride 1, valid (the GEMM path)": conv(
            lambda l: max(l.kernel_size) == 1 and max(l.strides) == 1
            and l.padding == "valid"),
        "conv without bias": conv(lambda l: not l.use_bias),
        "conv with softmax channels_first": conv(
            lambda l: l.activation == "softmax" and l.data_format == "channels_first"),
        "pool with strides unlike its size": pool(lambda l: l.strides != l.pool_size),
        "pool strides larger than its size": pool(
            lambda l: any(s > p for s, p in zip(l.strides, l.pool_size))),
        "MaxPooling2D uneven same pads": layer("MaxPooling2D", uneven),
        "AveragePooling1D uneven same pads": layer("AveragePooling1D", uneven),
        "AveragePooling2D uneven same pads": layer("AveragePooling2D", uneven),
        "pool window as large as the input (valid)": pool(
            lambda l: l.padding == "valid" and l.pool_size == spatial_sizes(l)
            and max(l.pool_size) > 1),
        "LocallyConnected1D with strides": layer(
            "LocallyConnected1D", lambda l: l.strides[0] > 1),
        "LocallyConnected2D channels_first with strides": layer(
            "LocallyConnected2D", lambda l: l.data_format == "channels_first"
            and max(l.strides) > 1),
        "local kernel as large as the input": lambda model, graph: any(
            l.kind.startswith("Locally") and l.kernel_size == spatial_sizes(l)
            and max(l.kernel_size) > 1 for l in model.layers),
        "global pooling with keepdims": lambda model, graph: any(
            l.kind in GLOBAL_POOLS and l.keepdims for l in model.layers),
        "Flatten channels_first head": has_layer(
            "Flatten", lambda l: l.data_format == "channels_first"),
        "Flatten channels_last head": has_layer(
            "Flatten", lambda l: l.data_format == "channels_last"),
        "Dense straight on feature maps": lambda model, graph: len(
            model.layers[-1].input_shape) > 2 and model.layers[-2].kind in WINDOWED,
        "data formats mixed in one stack": formats_mixed,
        "four windowed layers": lambda model, graph: sum(
            l.kind in WINDOWED for l in model.layers) == 4,
        "input rank 3": input_rank(1),
        "input rank 4": input_rank(2),
    })
    assert missing_features(spatial_stacks(), features, examples=1000) == set()


@settings(deadline=None, max_examples=10)
@given(spatial_stacks(input_shapes=spatial_shapes(3, 3, max_side=5)))
def test_spatial_stacks_over_volumes_are_3d_convnets(model):
    assert len(model.input_shape) == 5
    kinds = {layer.kind for layer in model.layers}
    assert kinds <= SPATIAL_3D | {"BatchNormalization", "Flatten", "Dense"}
    verify(model.to_graph())
    assert outputs_match_types(model)


def test_spatial_stacks_over_volumes_reach_every_3d_layer():
    features = {f"{kind} {fmt}": has_layer(kind, lambda l, fmt=fmt: l.data_format == fmt)
                for kind in SPATIAL_3D for fmt in DATA_FORMATS}
    features["Conv3D same with strides"] = has_layer(
        "Conv3D", lambda l: l.padding == "same" and max(l.strides) > 1)
    features["Conv3D dilated"] = has_layer("Conv3D", lambda l: max(l.dilation_rate) > 1)
    assert missing_features(spatial_stacks(input_shapes=spatial_shapes(3, 3, max_side=5)),
                            features, examples=300) == set()


def test_default_draws_reach_the_3d_family_layers_on_volumes():
    features = {kind: has_layer(kind) for kind in FAMILY_3D}
    assert missing_features(layer_stacks(input_shapes=spatial_shapes(3, 3, max_side=4),
                                          max_layers=2), features, examples=300) == set()


def test_the_conv_transpose_maker_reaches_its_options_on_volumes():
    def has(test):
        return has_layer("Conv3DTranspose", test)

    features = {f"{fmt} {padding}": has(lambda layer, fmt=fmt, padding=padding: (
        layer.data_format == fmt and layer.padding == padding))
        for fmt in DATA_FORMATS for padding in ("valid", "same")}
    features["strided with output_padding"] = has(
        lambda layer: max(layer.strides) > 1 and layer.output_padding is not None
        and max(layer.output_padding) > 0)
    features["dilated"] = has(lambda layer: max(layer.dilation_rate) > 1)
    makers = {"conv_transpose": LAYER_MAKERS["conv_transpose"]}
    volumes = spatial_shapes(3, 3, max_side=4)
    assert missing_features(layer_stacks(makers=makers, input_shapes=volumes, max_layers=1),
                            features, examples=200) == set()


@DRAWS
@given(layer_stacks(makers={"conv_transpose": LAYER_MAKERS["conv_transpose"]},
                    input_shapes=st.sampled_from([(1, 1, 1, 2), (2, 1, 1, 1), (1, 3), (1, 1, 2)]),
                    max_layers=1))
def test_the_conv_transpose_maker_leaves_no_axis_empty(model):
    """'same' with output_padding 0 empties a side-1 axis under an even
    kernel (Keras agrees); the maker drops output_padding there."""
    assert 0 not in model.output_shape


@DRAWS
@given(st.data())
def test_spatial_stacks_take_their_makers_heads_and_shapes(data):
    maxpool = {"max_pooling2d": SPATIAL_MAKERS["max_pooling2d"]}
    model = data.draw(spatial_stacks(makers=maxpool, min_layers=2, max_layers=2,
                                     input_shapes=spatial_shapes(2, 2), heads=("flatten",)))
    assert [layer.kind for layer in model.layers] == [
        "MaxPooling2D", "MaxPooling2D", "Flatten", "Dense"]
    model = data.draw(spatial_stacks(heads=("none",), input_shapes=st.just((5, 3))))
    assert model.input_shape == (None, 5, 3)
    assert model.layers[-2].kind in WINDOWED | NORMALIZATION


# ----- functional_graphs -----
@DRAWS
@given(functional_graphs())
def test_functional_graphs_are_valid_models(model):
    assert type(model) is layerc.Model
    assert 1 <= len(model.inputs) <= 3
    assert 1 <= len(model.outputs) <= 4
    assert {layer.kind for layer in layers_of(model)} <= (CORE | MERGES | SPATIAL | NORMALIZATION
                                                         | SPATIAL_3D | FAMILY_3D)
    verify(model.to_graph())
    assert outputs_match_types(model)
    assert probe_magnitude(model) <= MAX_MAGNITUDE


def test_functional_graphs_reach_merges_shared_layers_and_several_outputs():
    def shared_dense(model, graph):
        layers = [node.layer for node in graph.nodes() if node.op is OpKind.DENSE]
        return len(layers) > len(set(layers))

    def output_also_read(model, graph):
        return any(graph.use_count(p) > graph.outputs.count(p) for p in graph.outputs)

    def distinct(graph, node):
        return len(set(node.inputs)) == len(node.inputs)

    features = {f"{op.value} of distinct tensors": has_node(op, distinct) for op in MERGE_OPS}
    features.update({
        "add of 3": has_node(OpKind.ADD, lambda graph, node: len(node.inputs) == 3),
        "concatenate on a middle axis": has_node(
            OpKind.CONCATENATE, lambda graph, node: node.attrs.axis < node.type.rank - 1),
        "concatenate by a negative axis": has_layer("Concatenate",
                                                    lambda layer: layer.axis < 0),
        "a shared Dense": shared_dense,
        "a dot of distinct tensors": has_node(OpKind.DOT, distinct),
        "a multi-head attention": has_layer("MultiHeadAttention"),
        "a grouped-query attention": has_node(OpKind.ATTENTION, lambda graph, node:
                                              graph.type_of(node.inputs[1]).shape[2] <
                                              node.type.shape[2]),
        "a causal attention": has_node(OpKind.ATTENTION, lambda graph, node: node.attrs.causal),
        "a tanh-scored attention": has_node(OpKind.ATTENTION, lambda graph, node:
                                            node.attrs.score == "tanh"),
        "a normalized dot": has_node(OpKind.LAYER_NORM, lambda graph, node:
                                     node.attrs.mode == "unit"),
        "2 inputs": lambda model, graph: len(model.inputs) == 2,
        "3 inputs": lambda model, graph: len(model.inputs) == 3,
        "3 outputs": lambda model, graph: len(model.outputs) == 3,
        "an output a layer reads too": output_also_read,
        "flatten channels_first in a chain": has_node(
            OpKind.FLATTEN, lambda graph, node: node.attrs.data_format == "channels_first"
            and graph.type_of(node.inputs[0]).rank > 2),
        "a convolution in a chain": has_node(OpKind.CONV),
        "a pooling in a chain": has_node(OpKind.POOL),
        "a global pooling in a chain": has_node(OpKind.GLOBAL_POOL),
        "a locally connected in a chain": has_node(OpKind.LOCAL),
        "a merge of feature maps": lambda model, graph: any(
            node.op in MERGE_OPS and any(
                graph.node(p.node).op in (OpKind.CONV, OpKind.POOL, OpKind.LOCAL)
                for p in node.inputs) for node in graph.nodes()),
    })
    assert missing_features(functional_graphs(makers=classic_makers()), features,
                            examples=1000) == set()


@DRAWS
@given(st.data())
def test_functional_graphs_take_their_makers(data):
    model = data.draw(functional_graphs(makers={"tanh": lambda d, s: Activation("tanh")}))
    chained = [layer for layer in layers_of(model) if layer.kind == "Activation"]
    assert all(layer.activation == "tanh" for layer in chained)


# ----- inputs -----
@DRAWS
@given(st.one_of(layer_stacks(), functional_graphs()), st.data())
def test_model_inputs_fit_the_model(model, data):
    xs = data.draw(model_inputs(model))
    assert len(xs) == len(model.inputs)
    batch = xs[0].shape[0]
    assert 1 <= batch <= 5
    for x, t in zip(xs, model.inputs):
        assert x.dtype == np.float32 and x.shape == (batch, *t.shape[1:])
        assert np.all(np.isfinite(x))
        assert np.all((INPUT_RANGE[0] <= x) & (x <= INPUT_RANGE[1]))


@DRAWS
@given(st.data())
def test_model_inputs_take_a_batch_a_range_and_nans(data):
    a, b = Input((3,)), Input((2, 2))
    model = layerc.Model([a, b], [Dense(2)(a), Flatten()(b)])
    xs = data.draw(model_inputs(model, batch=4, low=0.0, high=1.0, allow_nan=True))
    assert [x.shape for x in xs] == [(4, 3), (4, 2, 2)]
    assert all(np.all(np.isnan(x) | ((0 <= x) & (x <= 1))) for x in xs)


def test_model_inputs_with_nans_draw_some_nans():
    model = layerc.Sequential([Input((8,)), Dense(2)])
    find(model_inputs(model, allow_nan=True), lambda xs: np.isnan(xs[0]).any(),
         settings=SEARCH)


def test_inputs_for_is_seeded():
    model = layerc.Sequential([Input((2, 3)), Flatten()])
    (x,) = inputs_for(model, 4, seed=7)
    assert x.shape == (4, 2, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(inputs_for(model, 4, seed=7)[0], x)
    assert not np.array_equal(inputs_for(model, 4, seed=8)[0], x)
    (holey,) = inputs_for(model, 50, nan_fraction=0.5)
    assert 0 < np.isnan(holey).mean() < 1
    graph = model.to_graph()
    np.testing.assert_array_equal(inputs_for(graph, 4, seed=7)[0], x)


def test_inputs_for_refuses_what_it_cannot_draw():
    ints = Input((3,), dtype="int32")
    with pytest.raises(ValueError, match="only float inputs"):
        inputs_for(layerc.Model(ints, ints), 2)
    unknown = Input((None, 3))
    with pytest.raises(ValueError, match="unknown dimension"):
        inputs_for(layerc.Model(unknown, Dense(2)(unknown)), 2)


# ----- the probe -----
def test_probe_magnitude_flags_runaway_values():
    tame = layerc.Sequential([Input((4,)), Activation("tanh")])
    assert probe_magnitude(tame) == INPUT_RANGE[1]  # the inputs are tensors too
    runaway = layerc.Sequential([Input((4,))] + [Activation("exponential")] * 3)
    assert probe_magnitude(runaway) == np.inf


def test_probe_sensitivity_flags_an_exponential_of_a_sum_of_large_terms():
    tame = layerc.Sequential([Input((32,)), Dense(4, activation="tanh")])
    assert probe_sensitivity(tame) < MAX_SENSITIVITY
    fragile = layerc.Sequential([
        Input((32,)), Activation("exponential"),
        Dense(1, use_bias=False, kernel_initializer=layerc.initializers.RandomUniform(
            -1.0, 1.0, seed=0)), Activation("exponential")])
    assert probe_sensitivity(fragile) > MAX_SENSITIVITY
    assert probe_sensitivity(fragile) == probe_sensitivity(fragile)  # seeded
    runaway = layerc.Sequential([Input((4,))] + [Activation("exponential")] * 3)
    assert probe_sensitivity(runaway) == np.inf


def test_the_sensitivity_bound_rejects_convnets_the_magnitude_bound_lets_through():
    model = find(spatial_stacks(max_sensitivity=None),
                 lambda model: probe_sensitivity(model) > MAX_SENSITIVITY, settings=SEARCH)
    assert probe_magnitude(model) <= MAX_MAGNITUDE


def test_reference_values_hold_every_tensor():
    a = Input((4,), name="values_in")
    hidden = Dense(3, activation="relu", name="values_dense")(a)
    model = layerc.Model(a, Add()([hidden, hidden]))
    values = reference_values(model, inputs_for(model, 2))
    assert len(values) == len(model.to_graph())
    out = interpret(model.to_graph(), inputs_for(model, 2))[0]
    assert any(np.array_equal(v, out) for v in values.values())
    assert any(np.array_equal(2 * v, out) for v in values.values())


# ----- assert_compiles_like_reference -----
def small_model():
    a, b = Input((2, 3)), Input((3,))
    hidden = Dense(3, activation="tanh")(a)
    joined = Concatenate(axis=1)([hidden, Reshape((1, 3))(b)])
    return layerc.Model([a, b], [Flatten(data_format="channels_first")(joined),
                                 Dropout(0.5)(b)])


def test_agreement_passes_with_every_way_of_giving_inputs():
    model = small_model()
    xs = inputs_for(model, 5)
    assert_compiles_like_reference(model)
    assert_compiles_like_reference(model, xs)
    assert_compiles_like_reference(model, tuple(x.astype(np.float64) for x in xs))
    assert_compiles_like_reference(model, dict(zip(model.input_names, xs)))
    assert_compiles_like_reference(model, xs, batch_size=2)
    assert_compiles_like_reference(model.to_graph(), xs)
    single = layerc.Sequential([Input((3,)), Dense(2)])
    assert_compiles_like_reference(single, inputs_for(single, 2)[0])


def perturbed(reference, index, delta):
    def interpret_wrong(graph, xs):
        outs = [o.copy() for o in reference(graph, xs)]
        outs[index][(1,) + (0,) * (outs[index].ndim - 1)] += delta
        return outs
    return interpret_wrong


def test_a_wrong_reference_fails_and_says_where(monkeypatch):
    monkeypatch.setattr(testing, "interpret", perturbed(interpret, 1, 0.25))
    with pytest.raises(AssertionError) as failure:
        assert_compiles_like_reference(small_model())
    message = str(failure.value)
    assert "the default pipeline" in message
    assert "output 1 of 2" in message
    assert "1 of 9 values out of tolerance" in message
    assert "max abs error 0.25 at index (1, 0)" in message
    assert "graph:" in message and "dense(" in message


def test_tolerances_are_atol_plus_rtol_times_the_reference(monkeypatch):
    model = small_model()
    xs = inputs_for(model, 3)
    monkeypatch.setattr(testing, "interpret", perturbed(interpret, 0, 5e-6))
    assert_compiles_like_reference(model, xs, atol=1e-5, rtol=0)
    with pytest.raises(AssertionError, match="atol=1e-06, rtol=0"):
        assert_compiles_like_reference(model, xs, atol=1e-6, rtol=0)

    def scaled(graph, xs):
        return [o * np.float32(1 + 1e-4) for o in interpret(graph, xs)]

    monkeypatch.setattr(testing, "interpret", scaled)
    assert_compiles_like_reference(model, xs, atol=0, rtol=2e-4)
    with pytest.raises(AssertionError, match="atol=0, rtol=5e-05"):
        assert_compiles_like_reference(model, xs, atol=0, rtol=5e-5)


def test_nan_must_meet_nan(monkeypatch):
    model = small_model()
    xs = inputs_for(model, 3)
    xs[1][1, 0] = np.nan  # reaches both outputs, through Reshape and Dropout
    assert_compiles_like_reference(model, xs)
    monkeypatch.setattr(testing, "interpret", perturbed(interpret, 0, np.nan))
    with pytest.raises(AssertionError, match="max abs error inf"):
        assert_compiles_like_reference(model, inputs_for(model, 3))


class Tampered:
    """Wraps a CompiledModel and changes what its predict returns."""

    def __init__(self, compiled, change):
        self.compiled = compiled
        self.change = change

    def predict(self, xs, batch_size=None):
        return self.change(self.compiled.predict(xs, batch_size=batch_size), xs)


def tamper(monkeypatch, change, only_plan_memory=False):
    real = testing.compile_model

    def compile_tampered(model, passes=None):
        compiled = real(model, passes=passes)
        if only_plan_memory and passes is None:
            return compiled
        return Tampered(compiled, change)

    monkeypatch.setattr(testing, "compile_model", compile_tampered)


def bump_first(outs, xs):
    outs[0][0, 1] += 1e-3
    return outs


def test_a_wrong_compiled_output_fails(monkeypatch):
    tamper(monkeypatch, bump_first)
    where = r"\(batch_size=2\), output 0 of 2 .*max abs error 0\.00(1|099).* at index \(0, 1\)"
    with pytest.raises(AssertionError, match=r"the default pipeline " + where):
        assert_compiles_like_reference(small_model(), batch_size=2)


def test_the_unoptimized_compilation_is_checked_too(monkeypatch):
    tamper(monkeypatch, bump_first, only_plan_memory=True)
    with pytest.raises(AssertionError, match="plan-memory alone"):
        assert_compiles_like_reference(small_model())


def write_into_input(outs, xs):
    xs[0][0, 0, 0] += 7.0
    return outs


@pytest.mark.parametrize("change, message", [
    (lambda outs, xs: outs[:1], "gives 1 outputs; the reference gives 2"),
    (lambda outs, xs: [outs[0][:, :5], outs[1]], r"shape \(3, 5\) differs"),
    (lambda outs, xs: [outs[0].astype(np.float64), outs[1]], "dtype float64"),
    (write_into_input, "wrote into input 0"),
], ids=["outputs", "shape", "dtype", "inputs"])
def test_other_disagreements_fail(monkeypatch, change, message):
    tamper(monkeypatch, change)
    with pytest.raises(AssertionError, match=message):
        assert_compiles_like_reference(small_model())


# ----- the properties find real bugs -----
def first_failure(strategy):
    @settings(deadline=None, max_examples=300, database=None, derandomize=True,
              phases=[Phase.generate])
    @given(strategy, st.data())
    def check(model, data):
        assert_compiles_like_reference(model, data.draw(model_inputs(model)))

    with pytest.raises(AssertionError) as failure:
        check()
    return str(failure.value)


def test_layer_stacks_find_a_flatten_that_ignores_channels_first(monkeypatch):
    monkeypatch.setitem(LOWERINGS, OpKind.FLATTEN, LOWERINGS[OpKind.RESHAPE])
    assert "plan-memory alone" in first_failure(layer_stacks(makers=classic_makers()))


def test_functional_graphs_find_a_maximum_that_takes_the_minimum(monkeypatch):
    lower = LOWERINGS[OpKind.MAXIMUM]

    def lower_as_minimum(e, node):
        lower(e, dataclasses.replace(node, op=OpKind.MINIMUM))

    monkeypatch.setitem(LOWERINGS, OpKind.MAXIMUM, lower_as_minimum)
    assert "= maximum(" in first_failure(functional_graphs(makers=classic_makers()))



def test_spatial_stacks_find_a_pool_that_pads_at_the_wrong_end(monkeypatch):
    """TF's 'same' puts the odd pad at the end; a kernel that put it first (a
    classic port bug) must be caught."""
    lower = LOWERINGS[OpKind.POOL]

    def lower_padding_first(e, node):
        a = node.attrs
        _, pads, _ = window_output(e.graph.type_of(node.inputs[0]), a.data_format, a.pool,
                                   a.strides, (1,) * len(a.pool), a.padding, "pool")
        swapped = tuple((after, before) for before, after in pads)
        lower(e, dataclasses.replace(node, attrs=dataclasses.replace(a, pads=swapped)))

    monkeypatch.setitem(LOWERINGS, OpKind.POOL, lower_padding_first)
    assert "= pool(" in first_failure(spatial_stacks())
