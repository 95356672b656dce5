"""`model.summary()`: a table of layers, output shapes and parameter counts."""

from __future__ import annotations

from typing import Any

from layerc.layers.input_layer import InputLayer


def _shape_text(layer: Any, model: Any) -> str:
    in_model = {id(n) for n in model._nodes}
    shapes = [t.shape for node in layer._nodes if id(node) in in_model
              for t in node.data_outputs]
    if not shapes:
        return "?"
    unique = list(dict.fromkeys(shapes))
    return ", ".join(str(s) for s in unique)


def _connected(layer: Any, model: Any) -> list[str]:
    in_model = {id(n) for n in model._nodes}
    return [f"{t.layer.name}[{t.node_index}][{t.tensor_index}]"
            for node in layer._nodes if id(node) in in_model for t in node.data_inputs]


def summary_text(model: Any, width: int = 98) -> str:
    from layerc.models import Sequential

    functional = not isinstance(model, Sequential)
    cols = [0.36, 0.64, 0.78, 1.0] if functional else [0.45, 0.8, 1.0]
    stops = [int(width * c) for c in cols]
    heads = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])

    def row(cells: list[str]) -> str:
        line, start = "", 0
        for cell, stop in zip(cells, stops):
            line += (" " + cell)[: stop - start - 1].ljust(stop - start)
            start = stop
        return line.rstrip()

    lines = [f'Model: "{model.name}"', "_" * width, row(heads), "=" * width]
    if model.built:
        layers = model.layers
        for i, layer in enumerate(layers):
            params = layer.count_params() if layer.built else 0
            cells = [f"{layer.name} ({layer.kind})", _shape_text(layer, model), f"{params:,}"]
            links = _connected(layer, model) if functional else []
            if functional:
                cells.append(links[0] if links else "-")
            lines.append(row(cells))
            for link in links[1:]:
                lines.append(row(["", "", ""] + [link]))
            lines.append(("=" if i == len(layers) - 1 else "_") * width)
        total = sum(layer.count_params() for layer in layers
                    if layer.built and not isinstance(layer, InputLayer))
        trainable = sum(layer.count_params() for layer in layers
                        if layer.built and layer.trainable)
    else:
        lines.append(" (unbuilt: give the first layer an input_shape to see shapes)")
        lines.append("=" * width)
        total = trainable = 0
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "_" * width]
    return "\n".join(lines)
