"""The text CNN case, the issue's model on int32 token ids of length 200:
Embedding(20000, 128) -> Conv1D(128, 5, relu) -> MaxPooling1D(5) ->
Conv1D(128, 5, relu) -> GlobalMaxPooling1D -> Dense(1, sigmoid).

The model is built here, with layerc's layers (seeded weights, as the examples
do): examples/text_cnn.py (a smaller Embedding(5000, 64) x 100 with Dropout)
stays as it is, since the CLI tests and the README use it. It is built in
layerc rather than converted from Keras so that the case needs no Keras to
build (scripts/gpu_check.sh imports it in a venv without Keras); the harness
copies its weights into build_keras()'s model as for every case.

Every peer gets the same int32 array: the Keras model's Input is
dtype="int32", so its ONNX export takes tensor(int32) (with the default float32
Input, the export would take floats); layerc and torch's nn.Embedding accept
int32 ids as they are."""

from __future__ import annotations

from typing import Any

from common import Case

VOCABULARY, LENGTH, EMBED = 20000, 200, 128


def build_layerc() -> Any:
    import layerc
    from layerc.layers import Conv1D, Dense, Embedding, GlobalMaxPooling1D, MaxPooling1D

    layerc.utils.set_random_seed(0)
    return layerc.Sequential([
        Embedding(VOCABULARY, EMBED, input_length=LENGTH),
        Conv1D(128, 5, activation="relu"),
        MaxPooling1D(5),
        Conv1D(128, 5, activation="relu"),
        GlobalMaxPooling1D(),
        Dense(1, activation="sigmoid"),
    ], name="text_cnn")


def build_keras() -> Any:
    import keras

    return keras.Sequential([
        keras.Input((LENGTH,), dtype="int32"),
        keras.layers.Embedding(VOCABULARY, EMBED),
        keras.layers.Conv1D(128, 5, activation="relu"),
        keras.layers.MaxPooling1D(5),
        keras.layers.Conv1D(128, 5, activation="relu"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="text_cnn")


def build_torch(layerc_model: Any) -> Any:
    """The same network as a PyTorch user writes it: nn.Embedding gives (N, L, E),
    transposed to (N, C, L) for Conv1d, whose weights are (out, in, k) (the layerc
    kernel (k, in, out) is transposed); GlobalMaxPooling1D is a max over time."""
    import numpy as np
    import torch

    class ToChannelsFirst(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x.transpose(1, 2)

    class GlobalMaxOverTime(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x.amax(dim=2)

    layers: list[Any] = []
    for layer in layerc_model.layers:
        kind = type(layer).__name__
        config = layer.get_config()
        if kind == "Embedding":
            (table,) = layer.get_weights()
            emb = torch.nn.Embedding(*table.shape)
            with torch.no_grad():
                emb.weight.copy_(torch.from_numpy(table))
            layers += [emb, ToChannelsFirst()]
        elif kind == "Conv1D":
            if config.get("padding", "valid") != "valid" or tuple(config.get("strides", (1,))) \
                    != (1,) or config.get("data_format", "channels_last") != "channels_last":
                raise ValueError(f"bench_text_cnn.build_torch: {layer.name} config not mapped")
            kernel, bias = layer.get_weights()
            k, cin, cout = kernel.shape
            conv = torch.nn.Conv1d(cin, cout, k)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(
                    kernel.transpose(2, 1, 0))))
                conv.bias.copy_(torch.from_numpy(bias))
            layers.append(conv)
            _append_activation(layers, config["activation"])
        elif kind == "MaxPooling1D":
            pool = tuple(config["pool_size"])
            layers.append(torch.nn.MaxPool1d(pool, tuple(config["strides"] or pool)))
        elif kind == "GlobalMaxPooling1D":
            layers.append(GlobalMaxOverTime())
        elif kind == "Dropout":
            layers.append(torch.nn.Dropout(config["rate"]))
        elif kind == "Dense":
            kernel, bias = layer.get_weights()
            lin = torch.nn.Linear(kernel.shape[0], kernel.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
                lin.bias.copy_(torch.from_numpy(bias))
            layers.append(lin)
            _append_activation(layers, config["activation"])
        else:
            raise ValueError(f"bench_text_cnn.build_torch: layer kind {kind} not mapped")
    return torch.nn.Sequential(*layers).eval()


def _append_activation(layers: list[Any], act: Any) -> None:
    import torch

    if act == "relu":
        layers.append(torch.nn.ReLU())
    elif act == "sigmoid":
        layers.append(torch.nn.Sigmoid())
    elif act not in (None, "linear"):
        raise ValueError(f"bench_text_cnn.build_torch: activation {act!r} not mapped")


def make_input(batch: int, rng: Any) -> Any:
    """Token ids in [0, VOCABULARY), int32 (what the ONNX export takes)."""
    import numpy as np

    return rng.integers(0, VOCABULARY, size=(batch, LENGTH), dtype=np.int32)


def case() -> Case:
    return Case(name="text cnn", layerc_model=build_layerc(),
                build_keras=build_keras, make_input=make_input, build_torch=build_torch,
                batches=(1, 64))
