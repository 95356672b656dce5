"""The streaming GRU case: examples/streaming_gru.py's stateful model,
GRU(32, stateful=True, return_sequences=True) -> Dense(4), for 2 streams side by
side. One call is one timestep: input (2, 1, 8), float32, output (2, 1, 4); every
peer carries the GRU state from call to call.

- layerc: the compiled stateful model (CompiledModel.predict; reset_states()).
- Keras: the same architecture with keras.Input(batch_shape=(2, 1, 8)) and
  GRU(stateful=True) (reset: layer.reset_state()).
- torch eager: nn.GRU(batch_first=True) + nn.Linear, stepping with an explicit
  hidden state the module keeps between calls. Keras's GRU (reset_after=True)
  has kernel (in, 3u) with gates z, r, h, recurrent kernel (u, 3u) and bias
  (2, 3u) (input bias, recurrent bias); nn.GRU has weight_ih (3u, in) and
  weight_hh (3u, u) with gates r, z, n, and bias_ih, bias_hh: the gate blocks are
  reordered z, r, h -> r, z, n and transposed. nn.GRU's n gate is
  tanh(W_in x + b_in + r * (W_hn h + b_hn)), i.e. Keras's reset_after=True.
- ONNX Runtime is left out: a session carries no state between run() calls, so
  the export would need the state as an extra input and output, which Keras's
  export does not give a stateful model.

Agreement: every peer is reset, fed the same few steps, and its outputs compared
with layerc's (the harness's stateful check). Timing then runs without resets:
states advance on every call, which costs the same.
"""

from __future__ import annotations

from typing import Any

from bench_mlp import _load_example
from common import Case


def _example() -> Any:
    return _load_example("streaming_gru")


def build_keras() -> Any:
    import keras

    ex = _example()
    return keras.Sequential([
        keras.Input(batch_shape=(ex.STREAMS, 1, ex.FEATURES)),
        keras.layers.GRU(32, stateful=True, return_sequences=True),
        keras.layers.Dense(4),
    ], name="streaming_gru")


def _gates_zrh_to_rzn(w: Any, units: int) -> Any:
    """Reorders the gate blocks along the last axis from Keras's z, r, h to
    torch's r, z, n."""
    import numpy as np

    z, r, h = (w[..., i * units:(i + 1) * units] for i in range(3))
    return np.concatenate([r, z, h], axis=-1)


def torch_gru_weights(gru_layer: Any) -> tuple[Any, Any, Any, Any]:
    """A Keras-style GRU layer's weights as nn.GRU's weight_ih (3u, in),
    weight_hh (3u, u), bias_ih (3u,) and bias_hh (3u,), float32 NumPy arrays:
    gate blocks reordered z, r, h -> r, z, n, kernels transposed. Only the
    configuration nn.GRU computes (reset_after=True, tanh, sigmoid, biases) is
    mapped. Also used by bench_stacked_gru.py."""
    import numpy as np

    config = gru_layer.get_config()
    if not config.get("reset_after", True) or config.get("activation", "tanh") != "tanh" \
            or config.get("recurrent_activation", "sigmoid") != "sigmoid" \
            or not config.get("use_bias", True) or config.get("go_backwards"):
        raise ValueError(f"torch_gru_weights: {gru_layer.name}: GRU config not mapped")
    kernel, recurrent, bias = gru_layer.get_weights()
    units = recurrent.shape[0]
    arrays = (_gates_zrh_to_rzn(kernel, units).T, _gates_zrh_to_rzn(recurrent, units).T,
              _gates_zrh_to_rzn(bias[0], units), _gates_zrh_to_rzn(bias[1], units))
    return tuple(np.ascontiguousarray(a, dtype=np.float32) for a in arrays)


def build_torch(layerc_model: Any) -> Any:
    import numpy as np
    import torch

    gru_layer, dense_layer = layerc_model.layers
    weight_ih, weight_hh, bias_ih, bias_hh = torch_gru_weights(gru_layer)
    units = weight_hh.shape[1]
    dense_kernel, dense_bias = dense_layer.get_weights()
    if dense_layer.get_config().get("activation") not in (None, "linear"):
        raise ValueError("bench_streaming.build_torch: Dense activation not mapped")

    class StreamingGRU(torch.nn.Module):
        """nn.GRU stepping one timestep per call; keeps the hidden state."""

        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(weight_ih.shape[1], units, batch_first=True)
            self.dense = torch.nn.Linear(units, dense_kernel.shape[1])
            self.h: Any = None

        def reset_states(self) -> None:
            self.h = None  # nn.GRU starts from zeros

        def forward(self, x: Any) -> Any:
            y, self.h = self.gru(x, self.h)
            return self.dense(y)

    module = StreamingGRU()
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    with torch.no_grad():
        module.gru.weight_ih_l0.copy_(t(weight_ih))
        module.gru.weight_hh_l0.copy_(t(weight_hh))
        module.gru.bias_ih_l0.copy_(t(bias_ih))
        module.gru.bias_hh_l0.copy_(t(bias_hh))
        module.dense.weight.copy_(t(dense_kernel.T))
        module.dense.bias.copy_(t(dense_bias))
    return module.eval()


def make_input(batch: int, rng: Any) -> Any:
    """One timestep for `batch` streams: float32 (batch, 1, FEATURES)."""
    import numpy as np

    return rng.normal(size=(batch, 1, _example().FEATURES)).astype(np.float32)


ONNX_NOTE = ("an ONNX Runtime session keeps no state between run() calls; streaming would "
             "need the GRU state exported as an extra input and output, which Keras's "
             "export of a stateful model does not give")


def case() -> Case:
    ex = _example()
    return Case(name="streaming gru", layerc_model=ex.build_model(), build_keras=build_keras,
                make_input=make_input, build_torch=build_torch, batches=(ex.STREAMS,),
                onnx_skip=ONNX_NOTE, stateful=True, check_steps=5)
