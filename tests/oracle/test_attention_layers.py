"""The attention layers against Keras 3: MultiHeadAttention (hypothesis over
heads, key and value dims, output_shape, bias, lengths, a separate key and
attention scores; then the masks: the inputs' Keras masks, attention_mask,
use_causal_mask, sliding_window, and use_gate), GroupedQueryAttention,
Attention and AdditiveAttention (score modes, scales, masks, causal), each
through the reference interpreter, the compiled model and from_keras; a
small Transformer encoder block; the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.errors import ConfigError, ShapeError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ATOL = 2e-5
SWEEP = settings(max_examples=15, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


def pair(oracle, shapes, fn):
    xs = [layerc.Input(s) for s in shapes]
    model = layerc.Model(xs, fn(layerc, *xs))
    kxs = [oracle.keras.Input(s) for s in shapes]
    return model, oracle.keras.Model(kxs, fn(oracle.keras, *kxs))


@SWEEP
@given(heads=st.integers(1, 3), key_dim=st.integers(1, 4),
       value_dim=st.one_of(st.none(), st.integers(1, 4)),
       output_shape=st.one_of(st.none(), st.integers(1, 5)), use_bias=st.booleans(),
       steps_q=st.integers(1, 6), steps_v=st.integers(1, 6), features=st.integers(1, 5),
       with_key=st.booleans(), scores=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_multi_head_attention_matches_keras(oracle, heads, key_dim, value_dim, output_shape,
                                            use_bias, steps_q, steps_v, features, with_key,
                                            scores, seed):
    options = dict(num_heads=heads, key_dim=key_dim, value_dim=value_dim,
                   output_shape=output_shape, use_bias=use_bias, name="mha")
    shapes = [(steps_q, features), (steps_v, features + 1)] + \
        ([(steps_v, features + 2)] if with_key else [])

    def fn(ns, q, v, k=None):
        return ns.layers.MultiHeadAttention(**options)(q, v, key=k,
                                                       return_attention_scores=scores)

    model, kmodel = pair(oracle, shapes, fn)
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng)
    xs = [rng.uniform(-2, 2, (2, *s)).astype(np.float32) for s in shapes]
    out = oracle.check(model, kmodel, xs, atol=ATOL, rtol=1e-5)
    converted = layerc.compile(layerc.from_keras(kmodel)).predict(xs)
    converted = converted if isinstance(converted, list) else [converted]
    for i, (c, k) in enumerate(zip(converted, out.keras)):
        oracle.assert_close(c, k, f"from_keras output {i}", ATOL, 1e-5)


def test_a_transformer_encoder_block_matches_keras(oracle, tmp_path):
    """keras-io's text classifier block: token and position embeddings added
    by `+`, self-attention, residuals through LayerNormalization, a
    feed-forward Dense pair, global average pooling."""
    keras = oracle.keras
    tokens = keras.Input((12,), dtype="int32")
    positions = keras.Input((12,), dtype="int32")  # 0..11, fed as an input
    x = keras.layers.Embedding(50, 8)(tokens) + keras.layers.Embedding(12, 8)(positions)
    attn = keras.layers.MultiHeadAttention(2, 8)(x, x)
    x = keras.layers.LayerNormalization(epsilon=1e-6)(x + attn)
    ffn = keras.layers.Dense(8)(keras.layers.Dense(16, activation="relu")(x))
    x = keras.layers.LayerNormalization(epsilon=1e-6)(x + ffn)
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling1D()(x))
    kmodel = keras.Model([tokens, positions], out)
    ids = np.random.default_rng(0).integers(0, 50, (4, 12)).astype(np.int32)
    xs = [ids, np.tile(np.arange(12, dtype=np.int32), (4, 1))]
    expected = oracle.run_keras(kmodel, xs)[0]
    kmodel.save(tmp_path / "t.keras")
    for source in (kmodel, tmp_path / "t.keras"):
        oracle.assert_close(layerc.compile(layerc.from_keras(source)).predict(xs), expected,
                            "transformer", ATOL, 1e-5)


VOCAB = 4  # token ids 0..3, 0 masked: some rows fully masked


def ids_model(oracle, specs, fn):
    """layerc and Keras models on int32 token inputs (specs: (steps, masked)
    per sequence, embedded by Embedding(VOCAB, width, mask_zero=masked)) and
    float inputs (specs: a shape tuple), fn(ns, *tensors) -> outputs."""
    def build(ns):
        inputs, tensors = [], []
        for i, spec in enumerate(specs):
            if isinstance(spec, tuple) and len(spec) == 3 and isinstance(spec[2], bool):
                steps, width, masked = spec
                x = ns.Input((steps,), dtype="int32")
                tensors.append(ns.layers.Embedding(VOCAB, width, mask_zero=masked,
                                                   name=f"emb{i}")(x))
            else:
                x = ns.Input(spec)
                tensors.append(x)
            inputs.append(x)
        return ns.Model(inputs, fn(ns, *tensors))

    return build(layerc), build(oracle.keras)


def feed(specs, rng):
    """Token ids (0 often, so masks bite) and 0/1 attention masks."""
    xs = []
    for spec in specs:
        if isinstance(spec, tuple) and len(spec) == 3 and isinstance(spec[2], bool):
            xs.append(rng.choice(VOCAB, (3, spec[0]), p=[0.4, 0.2, 0.2, 0.2]).astype(np.int32))
        else:
            xs.append((rng.uniform(0, 1, (3, *spec)) < 0.7).astype(np.float32))
    return xs


def check_all(oracle, model, kmodel, xs):
    out = oracle.check(model, kmodel, xs, atol=ATOL, rtol=1e-5)
    converted = layerc.compile(layerc.from_keras(kmodel)).predict(xs)
    converted = converted if isinstance(converted, list) else [converted]
    for i, (c, k) in enumerate(zip(converted, out.keras)):
        oracle.assert_close(c, k, f"from_keras output {i}", ATOL, 1e-5)


@SWEEP
@given(grouped=st.booleans(), heads=st.sampled_from([(1, 1), (2, 1), (2, 2), (4, 2)]),
       dim=st.integers(1, 3), steps_q=st.integers(1, 5), steps_v=st.integers(1, 5),
       mask_q=st.booleans(), mask_v=st.booleans(), with_key=st.booleans(),
       attention_mask=st.booleans(), causal=st.booleans(),
       window=st.one_of(st.none(), st.integers(1, 3)), gate=st.booleans(),
       scores=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_masked_attention_heads_match_keras(oracle, grouped, heads, dim, steps_q, steps_v,
                                            mask_q, mask_v, with_key, attention_mask, causal,
                                            window, gate, scores, seed):
    """MultiHeadAttention and GroupedQueryAttention with every mask source
    (fully masked rows included: Keras weighs every key equally there, or
    gives zeros when it returns the scores)."""
    h, kv = heads
    widths = (3, 3, 5) if grouped else (3, 4, 5)  # GQA: the query's features are the value's
    specs = [(steps_q, widths[0], mask_q), (steps_v, widths[1], mask_v)] + \
        ([(steps_v, widths[2], mask_v)] if with_key else []) + \
        ([(steps_q, steps_v)] if attention_mask else [])

    def fn(ns, q, v, *rest):
        k = rest[0] if with_key else None
        m = rest[-1] if attention_mask else None
        options = dict(use_bias=bool(seed % 2), sliding_window=window, use_gate=gate,
                       name="att")
        if grouped:
            layer = ns.layers.GroupQueryAttention(dim, h, kv, **options)
        else:
            layer = ns.layers.MultiHeadAttention(h, dim, value_dim=dim + 1, **options)
        return layer(q, v, key=k, attention_mask=m, use_causal_mask=causal,
                     return_attention_scores=scores)

    model, kmodel = ids_model(oracle, specs, fn)
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng)
    check_all(oracle, model, kmodel, feed(specs, rng))


@SWEEP
@given(additive=st.booleans(), use_scale=st.booleans(), concat=st.booleans(),
       steps_q=st.integers(1, 5), steps_v=st.integers(1, 5), mask_q=st.booleans(),
       mask_v=st.booleans(), with_key=st.booleans(), causal=st.booleans(),
       scores=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_attention_and_additive_attention_match_keras(oracle, additive, use_scale, concat,
                                                      steps_q, steps_v, mask_q, mask_v,
                                                      with_key, causal, scores, seed):
    """Luong (dot or concat scores) and Bahdanau attention, with masks (a
    masked value step's score lowered by 1e9, a masked query's output zero)."""
    specs = [(steps_q, 3, mask_q), (steps_v, 4, mask_v)] + \
        ([(steps_v, 3, mask_v)] if with_key else [])

    def fn(ns, q, v, *rest):
        if additive:
            layer = ns.layers.AdditiveAttention(use_scale=use_scale, name="att")
        else:
            layer = ns.layers.Attention(use_scale=use_scale,
                                        score_mode="concat" if concat else "dot", name="att")
        if not with_key:  # the query's features must be the value's: project it
            q = ns.layers.Dense(4, name="proj")(q)
        return layer([q, v, *rest], use_causal_mask=causal, return_attention_scores=scores)

    model, kmodel = ids_model(oracle, specs, fn)
    rng = np.random.default_rng(seed)
    oracle.randomize(model, rng)
    check_all(oracle, model, kmodel, feed(specs, rng))


def test_refusals():
    q = layerc.Input((4, 3))
    layer = layerc.layers.MultiHeadAttention(2, 2)
    with pytest.raises(ConfigError, match="query_mask as an argument is not supported"):
        layer(q, q, query_mask=q)
    with pytest.raises(ConfigError, match="attention_axes"):
        layerc.layers.MultiHeadAttention(2, 2, attention_axes=(1, 2))(q, q)
    layer(q, q)
    with pytest.raises(ConfigError, match="every call must agree on"):
        layer(q, q, use_causal_mask=True)
    with pytest.raises(ConfigError, match="multiple of num_key_value_heads"):
        layerc.layers.GroupQueryAttention(2, 3, 2)
    with pytest.raises(ConfigError, match="score_mode must be"):
        layerc.layers.Attention(score_mode="general")
    with pytest.raises(ShapeError, match="the key .* must have the value's steps"):
        layerc.layers.Attention()([q, layerc.Input((5, 3)), layerc.Input((4, 3))])
    with pytest.raises(ConfigError, match="mask as an argument"):
        layerc.layers.AdditiveAttention()([q, q], mask=[None, None])


@pytest.mark.parametrize("layer", [lambda: layerc.layers.MultiHeadAttention(2, 3),
                                   lambda: layerc.layers.AdditiveAttention()])
def test_nan_in_a_query_spreads_to_its_row_only(layer):
    """A NaN score makes its query's output NaN (the softmax of a NaN row),
    and leaves the other queries' outputs finite, as the reference does."""
    from layerc.testing import assert_compiles_like_reference

    x = layerc.Input((4, 3))
    made = layer()
    out = made(x, x) if isinstance(made, layerc.layers.MultiHeadAttention) else made([x, x])
    model = layerc.Model(x, out)
    data = np.random.default_rng(0).uniform(-1, 1, (2, 4, 3)).astype(np.float32)
    data[0, 1, 0] = np.nan  # query 1 and key 1 of sample 0
    assert_compiles_like_reference(model, [data])
    got = layerc.compile(model).predict(data)
    assert np.isnan(got[0]).any() and np.isfinite(got[1]).all()


@pytest.mark.parametrize("axes", [None, (1, 2), (-3, -2)])
@pytest.mark.parametrize("scores", [False, True])
def test_attention_over_every_position_of_an_image_matches_keras(oracle, axes, scores):
    """(batch, rows, cols, features) inputs: Keras's default attention axes
    (every position), as MobileViT uses them; the scores keep the axes."""
    def build(ns):
        x, y = ns.Input((3, 2, 4)), ns.Input((2, 2, 5))
        return ns.Model([x, y], ns.layers.MultiHeadAttention(
            2, 3, attention_axes=axes, name="mha")(x, y, return_attention_scores=scores))

    model, kmodel = build(layerc), build(oracle.keras)
    rng = np.random.default_rng(7)
    oracle.randomize(model, rng)
    xs = [rng.uniform(-1, 1, (2, 3, 2, 4)).astype(np.float32),
          rng.uniform(-1, 1, (2, 2, 2, 5)).astype(np.float32)]
    out = oracle.check(model, kmodel, xs, atol=ATOL, rtol=1e-5)
    converted = layerc.compile(layerc.from_keras(kmodel)).predict(xs)
    converted = converted if isinstance(converted, list) else [converted]
    for i, (c, k) in enumerate(zip(converted, out.keras)):
        oracle.assert_close(c, k, f"from_keras output {i}", ATOL, 1e-5)


def test_attention_over_some_positions_is_refused():
    x = layerc.Input((3, 2, 4))
    with pytest.raises(ConfigError, match=r"attention_axes=\(1,\)"):
        layerc.layers.MultiHeadAttention(2, 3, attention_axes=1)(x, x)
    with pytest.raises(ConfigError, match="need \\(batch, steps, features\\) inputs"):
        layerc.layers.MultiHeadAttention(2, 3)(x, x, use_causal_mask=True)
