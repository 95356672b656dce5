"""The MLP case: examples/mlp.py's model, 784 -> 512 -> 512 -> 10 with ReLU,
ReLU, softmax (and two Dropout layers, identity at inference)."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from common import Case

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_example(name: str) -> Any:
    """Imports examples/<name>.py as a module (examples/ is not a package)."""
    modname = f"_layerc_example_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(
        modname, os.path.join(_ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module


def build_keras() -> Any:
    import keras

    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ], name="mlp")
    return model


def build_torch(layerc_model: Any) -> Any:
    """torch.nn.Sequential with the same weights (Linear stores kernel.T)."""
    import torch

    layers = []
    for layer in layerc_model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            kernel, bias = layer.get_weights()
            lin = torch.nn.Linear(kernel.shape[0], kernel.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(kernel.T.copy()))
                lin.bias.copy_(torch.from_numpy(bias))
            layers.append(lin)
            act = layer.get_config()["activation"]
            if act == "relu":
                layers.append(torch.nn.ReLU())
            elif act == "softmax":
                layers.append(torch.nn.Softmax(dim=-1))
            elif act not in (None, "linear"):
                raise ValueError(f"bench_mlp.build_torch: activation {act!r} not mapped")
        elif kind == "Dropout":
            layers.append(torch.nn.Dropout(layer.get_config()["rate"]))
        else:
            raise ValueError(f"bench_mlp.build_torch: layer kind {kind} not mapped")
    return torch.nn.Sequential(*layers).eval()


def make_input(batch: int, rng: Any) -> Any:
    import numpy as np

    return rng.random((batch, 784), dtype=np.float32)


def case() -> Case:
    model = _load_example("mlp").build_model()
    return Case(name="mlp 784-512-512-10", layerc_model=model, build_keras=build_keras,
                make_input=make_input, build_torch=build_torch, batches=(1, 64))
