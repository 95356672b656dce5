"""A Transformer encoder text classifier, built in Keras and converted.

keras.io's "Text classification with Transformer": token and position
embeddings (the positions 0..LENGTH-1 come in as a second input), one
encoder block (MultiHeadAttention, residuals through LayerNormalization, a
feed-forward Dense pair), GlobalAveragePooling1D and a softmax. Padding
tokens (id 0) are masked: the attention leaves them out and the pooling
averages the other steps. `build(ns)` writes the model once for either
namespace, `layerc` or `keras` (the Keras API layerc copies);
`python examples/transformer_classifier.py` (with Keras installed: `pip
install -e '.[test]'`) builds it in Keras, converts it with
layerc.from_keras, and checks the compiled model against Keras and against
layerc's reference interpreter.
"""

import os
from typing import Any

import numpy as np

import layerc

VOCABULARY, LENGTH, EMBED, HEADS, FFN = 2000, 64, 32, 2, 64


def build(ns: Any) -> Any:
    """The classifier in namespace `ns` (the layerc or the keras module)."""
    L = ns.layers
    tokens = ns.Input((LENGTH,), dtype="int32", name="tokens")
    positions = ns.Input((LENGTH,), dtype="int32", name="positions")
    x = L.Add(name="embed")([L.Embedding(VOCABULARY, EMBED, mask_zero=True,
                                         name="token_embedding")(tokens),
                             L.Embedding(LENGTH, EMBED, name="position_embedding")(positions)])
    attention = L.MultiHeadAttention(HEADS, EMBED // HEADS, name="attention")(x, x)
    x = L.LayerNormalization(epsilon=1e-6, name="norm1")(L.Add(name="residual1")([x, attention]))
    ffn = L.Dense(EMBED, name="ffn2")(L.Dense(FFN, activation="relu", name="ffn1")(x))
    x = L.LayerNormalization(epsilon=1e-6, name="norm2")(L.Add(name="residual2")([x, ffn]))
    x = L.GlobalAveragePooling1D(name="pool")(x)
    out = L.Dense(2, activation="softmax", name="classes")(x)
    return ns.Model([tokens, positions], out, name="transformer_classifier")


def build_model() -> layerc.Model:
    layerc.utils.set_random_seed(0)
    return build(layerc)


def sample_inputs(batch: int = 4, seed: int = 1) -> list[np.ndarray]:
    """Token ids padded with zeros at the end, and the positions."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, VOCABULARY, size=(batch, LENGTH)).astype(np.int32)
    for row, length in zip(tokens, rng.integers(LENGTH // 4, LENGTH + 1, size=batch)):
        row[length:] = 0
    return [tokens, np.tile(np.arange(LENGTH, dtype=np.int32), (batch, 1))]


model = build_model()

if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    keras.utils.set_random_seed(0)
    keras_model = build(keras)
    model = layerc.from_keras(keras_model)  # the Keras weights, converted
    model.summary()
    compiled = layerc.compile(model)
    print(layerc.ir.to_text(compiled.graph))
    xs = sample_inputs()
    probabilities = compiled.predict(xs)
    expected = keras.ops.convert_to_numpy(keras_model(xs, training=False))
    reference = layerc.ir.interpret(model.to_graph(), xs)[0]
    print("probabilities:", probabilities.round(4).tolist())
    print("max |compiled - keras|:", float(np.abs(probabilities - expected).max()))
    print("max |compiled - reference interpreter|:",
          float(np.abs(probabilities - reference).max()))
