"""The Transformer encoder text classifier (issue 13's benchmark model, as
keras-io's text classification with a Transformer builds it, without the
position embedding: the harness feeds one input): token ids of length 64 or
256 -> Embedding(20000, 64) -> MultiHeadAttention(2 heads, key_dim 32) over
itself -> Add -> LayerNormalization -> Dense(128, relu) -> Dense(64) -> Add ->
LayerNormalization -> GlobalAveragePooling1D -> Dense(2, softmax).

Built in Keras (random weights, seeded) and converted with layerc.from_keras.
The PyTorch twin is nn.Embedding -> nn.MultiheadAttention(batch_first) ->
LayerNorm -> Linear -> LayerNorm -> mean -> Linear -> softmax, the same
weights (Keras's (features, heads, dim) projection kernels are torch's
(heads * dim, features) ones transposed; heads * key_dim = the embedding
width, as torch requires; both scale by 1 / sqrt(key_dim)). ONNX Runtime is
left out: Keras's ONNX export of this model fails on the torch backend
(torch.onnx SymbolicValueError in keras/src/ops/nn.py's layer_norm, 2026-11-29)."""


from __future__ import annotations

from functools import partial
from typing import Any

from common import Case, from_keras_model

VOCABULARY, EMBED, HEADS, KEY_DIM, FFN = 20000, 64, 2, 32, 128
ONNX_NOTE = ("Keras's ONNX export fails on this model with the torch backend (torch.onnx "
             "SymbolicValueError inside keras.ops.layer_norm)")


def build_keras(length: int) -> Any:
    import keras

    tokens = keras.Input((length,), dtype="int32")
    x = keras.layers.Embedding(VOCABULARY, EMBED, name="embedding")(tokens)
    attention = keras.layers.MultiHeadAttention(HEADS, KEY_DIM, name="attention")(x, x)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")(
        keras.layers.Add(name="residual1")([x, attention]))
    ffn = keras.layers.Dense(FFN, activation="relu", name="ffn1")(x)
    ffn = keras.layers.Dense(EMBED, name="ffn2")(ffn)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")(
        keras.layers.Add(name="residual2")([x, ffn]))
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    out = keras.layers.Dense(2, activation="softmax", name="classes")(x)
    return keras.Model(tokens, out, name=f"transformer_{length}")


def build_torch(layerc_model: Any) -> Any:
    import numpy as np
    import torch

    layer = {lay.name: lay for lay in layerc_model.layers}
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    qk, qb, kk, kb, vk, vb, ok, ob = layer["attention"].get_weights()

    class Transformer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCABULARY, EMBED)
            self.attention = torch.nn.MultiheadAttention(EMBED, HEADS, batch_first=True)
            self.norm1 = torch.nn.LayerNorm(EMBED, eps=1e-6)
            self.ffn1 = torch.nn.Linear(EMBED, FFN)
            self.ffn2 = torch.nn.Linear(FFN, EMBED)
            self.norm2 = torch.nn.LayerNorm(EMBED, eps=1e-6)
            self.classes = torch.nn.Linear(EMBED, 2)

        def forward(self, ids: Any) -> Any:
            x = self.embedding(ids)
            x = self.norm1(x + self.attention(x, x, x, need_weights=False)[0])
            x = self.norm2(x + self.ffn2(torch.relu(self.ffn1(x))))
            return torch.softmax(self.classes(x.mean(dim=1)), dim=-1)

    m = Transformer()
    with torch.no_grad():
        m.embedding.weight.copy_(t(layer["embedding"].get_weights()[0]))
        m.attention.in_proj_weight.copy_(t(np.concatenate(
            [k.reshape(EMBED, -1).T for k in (qk, kk, vk)])))
        m.attention.in_proj_bias.copy_(t(np.concatenate([b.reshape(-1) for b in (qb, kb, vb)])))
        m.attention.out_proj.weight.copy_(t(ok.reshape(-1, EMBED).T))
        m.attention.out_proj.bias.copy_(t(ob))
        for name in ("norm1", "norm2"):
            gamma, beta = layer[name].get_weights()
            getattr(m, name).weight.copy_(t(gamma))
            getattr(m, name).bias.copy_(t(beta))
        for name in ("ffn1", "ffn2", "classes"):
            kernel, bias = layer[name].get_weights()
            getattr(m, name).weight.copy_(t(kernel.T))
            getattr(m, name).bias.copy_(t(bias))
    return m.eval()


def make_input(length: int, batch: int, rng: Any) -> Any:
    """Token ids in [0, VOCABULARY), int32 (what the ONNX export takes)."""
    import numpy as np

    return rng.integers(0, VOCABULARY, size=(batch, length), dtype=np.int32)


def _case(length: int) -> Case:
    build = partial(build_keras, length)
    return Case(name=f"transformer {length}", layerc_model=from_keras_model(build),
                build_keras=build, make_input=partial(make_input, length), batches=(1, 64),
                build_torch=build_torch, onnx_skip=ONNX_NOTE)


def case() -> Case:
    return _case(64)


def case_long() -> Case:
    return _case(256)
