"""Reading .keras files without Keras (layerc/keras_archive.py), on archives
written here by hand in Keras 3's format (config.json and model.weights.h5;
no Keras needed): a small functional model and a Sequential convert and
predict what their weights say; broken files are refused with an
ArtifactError or ConfigError naming the file and the layer."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import layerc
from layerc.errors import ArtifactError, ConfigError

KERNEL = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
BIAS = np.array([0.5, -0.5], dtype=np.float32)


def tensor(layer: str, node: int = 0, index: int = 0, shape: Any = (None, 3)) -> dict:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(shape), "dtype": "float32",
                       "keras_history": [layer, node, index]}}


def input_layer(name: str = "x") -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
            "name": name, "inbound_nodes": [],
            "config": {"batch_shape": [None, 3], "dtype": "float32", "sparse": False,
                       "ragged": False, "name": name, "optional": False}}


def dense(name: str = "dense", source: str = "x", class_name: str = "Dense") -> dict:
    return {"module": "keras.layers", "class_name": class_name, "registered_name": None,
            "name": name, "build_config": {"input_shape": [None, 3]},
            "config": {"name": name, "trainable": True, "dtype": "float32", "units": 2,
                       "activation": "linear", "use_bias": True},
            "inbound_nodes": [{"args": [tensor(source)], "kwargs": {}}]}


def functional(*layers: dict, output: str = "dense") -> dict:
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": "model", "trainable": True, "layers": list(layers),
                       "input_layers": [["x", 0, 0]], "output_layers": [[output, 0, 0]]}}


def dense_weights(group: str = "layers/dense") -> dict[str, np.ndarray]:
    return {f"{group}/vars/0": KERNEL, f"{group}/vars/1": BIAS}


def write(path: Path, config: Any = None, weights: dict[str, np.ndarray] | None = None,
          names: dict[str, str] | None = None, skip: str = "") -> Path:
    """A .keras archive: config.json and model.weights.h5 with `weights` at
    their HDF5 paths and each layer's name beside its variables."""
    config = functional(input_layer(), dense()) if config is None else config
    weights = dense_weights() if weights is None else weights
    names = {"layers/input_layer": "x", "layers/dense": "dense"} if names is None else names
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for group, name in names.items():
            f.require_group(f"{group}/vars").attrs["name"] = name
        for key, value in weights.items():
            f[key] = value
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        if skip != "config.json":
            archive.writestr("config.json", config if isinstance(config, str)
                             else json.dumps(config))
        if skip != "model.weights.h5":
            archive.writestr("model.weights.h5", buffer.getvalue())
    return path


def x_data() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (4, 3)).astype(np.float32)


def test_a_functional_model_converts_with_its_weights(tmp_path):
    model = layerc.from_keras(write(tmp_path / "m.keras"), use_keras=False)
    assert [layer.name for layer in model.layers] == ["x", "dense"]
    np.testing.assert_array_equal(model.get_layer("dense").get_weights()[0], KERNEL)
    x = x_data()
    np.testing.assert_allclose(layerc.ir.interpret(model.to_graph(), [x])[0],
                               x @ KERNEL + BIAS, rtol=1e-6)


def test_a_sequential_converts_and_its_input_layer_is_not_counted(tmp_path):
    """A Sequential's weights groups number its layers without the InputLayer."""
    layers = [input_layer(), {**dense(), "inbound_nodes": []},
              {**dense("second"), "config": {**dense("second")["config"], "units": 2}}]
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "seq", "trainable": True, "layers": layers,
                         "build_input_shape": [None, 3]}}
    second = {"layers/dense_1/vars/0": np.eye(2, dtype=np.float32),
              "layers/dense_1/vars/1": np.zeros(2, np.float32)}
    path = write(tmp_path / "s.keras", config, {**dense_weights(), **second},
                 {"layers/dense": "dense", "layers/dense_1": "second"})
    model = layerc.from_keras(path, use_keras=False)
    assert isinstance(model, layerc.Sequential)
    x = x_data()
    np.testing.assert_allclose(layerc.ir.interpret(model.to_graph(), [x])[0],
                               x @ KERNEL + BIAS, rtol=1e-6)


def refused(kind: type, path: Path, *words: str) -> str:
    with pytest.raises(kind) as info:
        layerc.from_keras(path, use_keras=False)
    message = str(info.value)
    for word in (str(path), *words):
        assert word in message, f"{word!r} not in: {message}"
    return message


def test_an_archive_without_its_parts_is_refused(tmp_path):
    refused(ArtifactError, write(tmp_path / "a.keras", skip="config.json"), "no config.json")
    refused(ArtifactError, write(tmp_path / "b.keras", skip="model.weights.h5"),
            "no model.weights.h5")
    (tmp_path / "c.keras").write_bytes(b"not a zip")
    refused(ArtifactError, tmp_path / "c.keras", "not a Keras 3 .keras file")
    refused(ArtifactError, write(tmp_path / "d.keras", "{not json"), "config.json is not JSON")
    refused(ArtifactError, write(tmp_path / "e.keras", {"config": {"layers": 3}}),
            "config.json")


def test_a_layer_without_weights_in_the_file_is_refused(tmp_path):
    path = write(tmp_path / "m.keras", weights={})
    refused(ArtifactError, path, "layer 'dense' (Keras Dense)", "set_weights expected 2")


def test_a_weight_of_the_wrong_shape_is_refused(tmp_path):
    path = write(tmp_path / "m.keras", weights={**dense_weights(),
                                                "layers/dense/vars/0": np.zeros((4, 2))})
    refused(ArtifactError, path, "layer 'dense' (Keras Dense)", "(3, 2)", "(4, 2)")


def test_variables_the_reader_does_not_know_are_refused(tmp_path):
    extra = {**dense_weights(), "layers/dense/vars/2": np.zeros(2)}
    refused(ArtifactError, write(tmp_path / "a.keras", weights=extra),
            "layer 'dense' (Keras Dense)", "weights do not fit", "expected 2", "got 3")
    inner = {**dense_weights(), "layers/dense/gate/vars/0": np.zeros(2)}
    refused(ArtifactError, write(tmp_path / "b.keras", weights=inner), "layers/dense/gate")
    gap = {"layers/dense/vars/0": KERNEL, "layers/dense/vars/2": BIAS}
    refused(ArtifactError, write(tmp_path / "c.keras", weights=gap), "layer 'dense'",
            "['0', '2'] in layers/dense/vars, expected 0..1")


def test_an_unknown_class_is_refused_by_name(tmp_path):
    config = functional(input_layer(), dense(class_name="Frobnicate"))
    refused(ConfigError, write(tmp_path / "m.keras", config), "Frobnicate x1 (first: 'dense')")
    custom = functional(input_layer(), {**dense(), "module": "my_package.layers"})
    refused(ConfigError, write(tmp_path / "c.keras", custom), "Dense x1 (first: 'dense')")


def test_a_graph_naming_what_is_not_there_is_refused(tmp_path):
    stray = {**dense(), "inbound_nodes": [{"args": [tensor("nope")], "kwargs": {}}]}
    refused(ArtifactError, write(tmp_path / "a.keras", functional(input_layer(), stray)),
            "'nope'")
    late = {**dense(), "inbound_nodes": [{"args": [tensor("x", node=3)], "kwargs": {}}]}
    refused(ArtifactError, write(tmp_path / "b.keras", functional(input_layer(), late)),
            "call 3 of 'x'")
    never = {**dense(), "inbound_nodes": []}
    refused(ArtifactError, write(tmp_path / "c.keras", functional(input_layer(), never)),
            "layer 'dense'", "never calls it")
    old = {**dense(), "inbound_nodes": [[["x", 0, 0, {}]]]}
    refused(ArtifactError, write(tmp_path / "d.keras", functional(input_layer(), old)),
            "Keras 3's format")


def test_an_operation_without_a_layer_is_refused_by_name(tmp_path):
    matmul = {"module": "keras.src.ops.numpy", "class_name": "Matmul", "registered_name": "Matmul",
              "name": "matmul", "config": {"name": "matmul"},
              "inbound_nodes": [{"args": [tensor("dense", shape=(None, 2)),
                                          tensor("dense", shape=(None, 2))], "kwargs": {}}]}
    path = write(tmp_path / "m.keras", functional(input_layer(), dense(), matmul,
                                                  output="matmul"))
    refused(ConfigError, path, "Keras op 'matmul' (Matmul)", "not converted")


def test_models_without_a_graph_are_refused(tmp_path):
    unbuilt = {"module": "keras", "class_name": "Sequential",
               "config": {"name": "seq", "trainable": True, "layers": [dense()]}}
    refused(ConfigError, write(tmp_path / "a.keras", unbuilt, names={}), "'seq'", "not built")
    subclassed = {"module": "__main__", "class_name": "MyModel",
                  "config": {"name": "mine", "trainable": True}}
    refused(ConfigError, write(tmp_path / "b.keras", subclassed, names={}), "'mine'",
            "subclassed")


def test_a_legacy_h5_file_needs_keras(tmp_path):
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {}})
    refused(ConfigError, path, "legacy HDF5 model needs Keras")


def test_import_layerc_imports_neither_h5py_nor_keras():
    code = ("import sys, layerc, layerc.keras_archive; "
            "print(sorted(m for m in ('h5py', 'keras', 'torch') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
