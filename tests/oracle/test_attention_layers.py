"""MultiHeadAttention against Keras 3: hypothesis over heads, key and value
dims, output_shape, bias, query/value lengths, a separate key and attention
scores, through the reference interpreter, the compiled model and from_keras;
a small Transformer encoder block; the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.errors import ConfigError

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


def test_refusals():
    q = layerc.Input((4, 3))
    layer = layerc.layers.MultiHeadAttention(2, 2)
    with pytest.raises(ConfigError, match="use_causal_mask=True is not supported"):
        layer(q, q, use_causal_mask=True)
    with pytest.raises(ConfigError, match="attention_mask is not supported"):
        layer(q, q, attention_mask=q)
    with pytest.raises(ConfigError, match="attention_axes"):
        layerc.layers.MultiHeadAttention(2, 2, attention_axes=(1, 2))
    ids = layerc.Input((4,), dtype="int32")
    masked = layerc.layers.Embedding(5, 3, mask_zero=True)(ids)
    with pytest.raises(ConfigError, match="carries a mask"):
        layerc.layers.MultiHeadAttention(2, 2)(masked, masked)
