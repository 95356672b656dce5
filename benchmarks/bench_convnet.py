"""The MNIST convnet case: examples/mnist_convnet.py's model on 28x28x1
channels_last images: Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Conv2D(64,
3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dropout -> Dense(10, softmax)."""

from __future__ import annotations

from typing import Any

from bench_mlp import _load_example
from common import Case


def build_keras() -> Any:
    import keras

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(64, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ], name="mnist_convnet")


def build_torch(layerc_model: Any) -> Any:
    """The same network as a PyTorch user writes it: NCHW convolutions. It takes
    the harness's NHWC array and permutes it to NCHW (a view; with C > 1, as in
    the CIFAR case, a channels_last-strided one, which Conv2d accepts as it is);
    Conv2d weights are (out, in, kh, kw), so the layerc kernel (kh, kw, in, out)
    is transposed; Flatten then runs in (C, H, W) order, so the rows of the Dense
    kernel are reordered from Keras's (H, W, C) order once, here. Also used by
    bench_cifar.py; maps Conv2D with padding "valid" or "same" at stride 1."""
    import numpy as np
    import torch

    class NHWCToNCHW(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x.permute(0, 3, 1, 2)

    layers: list[Any] = [NHWCToNCHW()]
    spatial = None  # (H, W, C) of the tensor entering Flatten, from layerc's shapes
    for layer in layerc_model.layers:
        kind = type(layer).__name__
        config = layer.get_config()
        if kind == "Conv2D":
            padding = config.get("padding", "valid")
            if padding not in ("valid", "same") or tuple(config.get("strides", (1, 1))) \
                    != (1, 1) or tuple(config.get("dilation_rate", (1, 1))) != (1, 1) \
                    or config.get("data_format", "channels_last") != "channels_last":
                raise ValueError(f"bench_convnet.build_torch: {layer.name} config not mapped")
            kernel, bias = layer.get_weights()
            kh, kw, cin, cout = kernel.shape
            # padding="same" at stride 1 pads as Keras does (torch pads the odd
            # element of an even kernel at the end too).
            conv = torch.nn.Conv2d(cin, cout, (kh, kw), padding=padding)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(
                    kernel.transpose(3, 2, 0, 1))))
                conv.bias.copy_(torch.from_numpy(bias))
            layers.append(conv)
            _append_activation(layers, config["activation"])
        elif kind == "MaxPooling2D":
            layers.append(torch.nn.MaxPool2d(tuple(config["pool_size"]),
                                             tuple(config["strides"] or config["pool_size"])))
        elif kind == "Flatten":
            spatial = tuple(layer.input_shape[1:])
            layers.append(torch.nn.Flatten())
        elif kind == "Dropout":
            layers.append(torch.nn.Dropout(config["rate"]))
        elif kind == "Dense":
            kernel, bias = layer.get_weights()
            if spatial is not None:  # the first Dense after Flatten only
                h, w, c = spatial
                kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
                spatial = None
            lin = torch.nn.Linear(kernel.shape[0], kernel.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
                lin.bias.copy_(torch.from_numpy(bias))
            layers.append(lin)
            _append_activation(layers, config["activation"])
        else:
            raise ValueError(f"bench_convnet.build_torch: layer kind {kind} not mapped")
    return torch.nn.Sequential(*layers).eval()


def _append_activation(layers: list[Any], act: Any) -> None:
    import torch

    if act == "relu":
        layers.append(torch.nn.ReLU())
    elif act == "softmax":
        layers.append(torch.nn.Softmax(dim=-1))
    elif act not in (None, "linear"):
        raise ValueError(f"bench_convnet.build_torch: activation {act!r} not mapped")


def make_input(batch: int, rng: Any) -> Any:
    import numpy as np

    return rng.random((batch, 28, 28, 1), dtype=np.float32)


def case() -> Case:
    model = _load_example("mnist_convnet").build_model()
    return Case(name="mnist convnet", layerc_model=model, build_keras=build_keras,
                make_input=make_input, build_torch=build_torch, batches=(1, 64))
