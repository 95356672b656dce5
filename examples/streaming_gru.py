"""Streaming inference with a stateful GRU: one timestep per call.

The GRU keeps each stream's state between predict calls (batch_size fixes how
many streams run side by side); `reset_states()` starts the streams afresh.
`python examples/streaming_gru.py` checks that feeding the steps one at a time
gives what one call on the whole sequence gives.
"""

import numpy as np

import layerc
from layerc.layers import GRU, Dense

STREAMS, FEATURES = 2, 8


def build_model() -> layerc.Sequential:
    layerc.utils.set_random_seed(0)
    return layerc.Sequential([
        GRU(32, stateful=True, return_sequences=True, batch_input_shape=(STREAMS, 1, FEATURES)),
        Dense(4),
    ], name="streaming_gru")


def sample_inputs(batch: int = STREAMS, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, 1, FEATURES)).astype(np.float32)


model = build_model()

if __name__ == "__main__":
    model.summary()
    compiled = layerc.compile(model)
    print(compiled.program.text)
    sequence = np.random.default_rng(2).normal(size=(STREAMS, 20, FEATURES)).astype(np.float32)
    streamed = np.concatenate([compiled.predict(sequence[:, t:t + 1]) for t in range(20)], axis=1)
    whole = layerc.Sequential([GRU(32, return_sequences=True, input_shape=(20, FEATURES)),
                               Dense(4)])
    whole.set_weights(model.get_weights())
    reference = layerc.ir.interpret(whole.to_graph(), [sequence])[0]
    compiled.reset_states()
    print("last step outputs:", streamed[:, -1])
    print("max |streamed - one call|:", float(np.abs(streamed - whole.predict(sequence)).max()))
    print("max |compiled - reference interpreter|:", float(np.abs(streamed - reference).max()))
