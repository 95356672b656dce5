"""An LSTM text classifier: Embedding(mask_zero) -> LSTM -> Dense(sigmoid).

Padded token ids go in (0 is padding); the mask makes the LSTM skip padding.
`python examples/lstm_classifier.py` checks the compiled model against the
reference interpreter.
"""

import numpy as np

import layerc
from layerc.layers import LSTM, Dense, Embedding

VOCABULARY, LENGTH = 2000, 32


def build_model() -> layerc.Sequential:
    layerc.utils.set_random_seed(0)
    return layerc.Sequential([
        Embedding(VOCABULARY, 32, mask_zero=True, input_length=LENGTH),
        LSTM(64),
        Dense(1, activation="sigmoid"),
    ], name="lstm_classifier")


def sample_inputs(batch: int = 4, seed: int = 1) -> np.ndarray:
    """Random sentences of random lengths, zero-padded at the front."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, VOCABULARY, size=(batch, LENGTH))
    for row, length in zip(tokens, rng.integers(1, LENGTH + 1, size=batch)):
        row[: LENGTH - length] = 0
    return tokens


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
