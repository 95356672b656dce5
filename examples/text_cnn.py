"""A text CNN: Embedding -> Conv1D -> MaxPooling1D -> GlobalMaxPooling1D -> Dense.

Token ids go in as integers; `python examples/text_cnn.py` checks the compiled
model against the reference interpreter.
"""

import numpy as np

import layerc
from layerc.layers import Conv1D, Dense, Dropout, Embedding, GlobalMaxPooling1D, MaxPooling1D

VOCABULARY, LENGTH = 5000, 100


def build_model() -> layerc.Sequential:
    layerc.utils.set_random_seed(0)
    return layerc.Sequential([
        Embedding(VOCABULARY, 64, input_length=LENGTH),
        Conv1D(128, 5, activation="relu"),
        MaxPooling1D(5),
        Conv1D(128, 5, activation="relu"),
        GlobalMaxPooling1D(),
        Dropout(0.5),
        Dense(1, activation="sigmoid"),
    ], name="text_cnn")


def sample_inputs(batch: int = 4, seed: int = 1) -> np.ndarray:
    """Random token ids (integers in [0, VOCABULARY))."""
    return np.random.default_rng(seed).integers(0, VOCABULARY, size=(batch, LENGTH))


model = build_model()

if __name__ == "__main__":
    model.summary()
    compiled = layerc.compile(model)
    print(layerc.ir.to_text(compiled.graph))
    print(compiled.program.text)
    tokens = sample_inputs()
    scores = compiled.predict(tokens)
    reference = layerc.ir.interpret(model.to_graph(), [tokens])[0]
    print("scores:", scores.ravel())
    print("max |compiled - reference interpreter|:", float(np.abs(scores - reference).max()))
