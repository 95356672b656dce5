"""Reading Keras model files for `from_keras`: a Keras 3 `.keras` archive, or
a legacy HDF5 `.h5` model (Keras 2 / tf.keras era), both through Keras 3's
own loader when Keras can be imported; without Keras (or when asked), a
`.keras` file is read by keras_archive.py and a legacy file is refused.

tf.keras wrote `time_major` into every recurrent layer's config, an argument
Keras 3 removed and refuses ("Unrecognized keyword arguments passed to
LSTM"), so a legacy file whose recurrent layers say `time_major: false` (its
only value tf.keras's RNNs ran inference with by default) is loaded from a
copy without that key; `time_major: true` is refused naming the layer.
Keras is imported only here (and by keras_objects.image_data_format, for a
live model): `import layerc` never imports it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from layerc.errors import ArtifactError, ConfigError

H5_SUFFIXES = (".h5", ".hdf5")


def load(path: Path, use_keras: bool | None = None) -> Any:
    """The Keras 3 model a .keras or legacy .h5 file holds: loaded by Keras
    (use_keras None and Keras importable, or True), else the stand-ins
    keras_archive.py reads (use_keras False, or Keras not importable)."""
    if not path.is_file():
        raise ArtifactError(f"from_keras: {path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in (".keras", *H5_SUFFIXES):
        raise ConfigError(f"from_keras: {path}: expected a Keras 3 '.keras' file or a legacy "
                          f"HDF5 '.h5' model; other formats (SavedModel, weights-only "
                          f"files) are not supported")
    keras = None if use_keras is False else _keras(path, required=use_keras is True)
    if keras is None:
        if suffix == ".keras":
            from layerc.keras_archive import read

            return read(path)
        raise ConfigError(f"from_keras: {path}: reading a legacy HDF5 model needs Keras "
                          f"(pip install 'layerc[keras]'); without it layerc reads Keras 3 "
                          f".keras files only")
    if suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise ArtifactError(f"from_keras: {path}: not a Keras 3 .keras file (not a zip "
                                f"archive)")
        return _keras_load(keras, path, path)
    with tempfile.TemporaryDirectory(prefix="layerc-h5-") as tmp:
        return _keras_load(keras, _legacy_copy(path, Path(tmp)), path)


def _keras(path: Path, required: bool) -> Any:
    """The keras module; None when it cannot be imported and is not required."""
    try:
        import keras
    except ImportError as err:
        if not required:
            return None
        raise ConfigError(f"from_keras: reading {path} with Keras needs keras (pip install "
                          f"'layerc[keras]'): {err}") from None
    return keras


def _keras_load(keras: Any, path: Path, named: Path) -> Any:
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as err:  # whatever Keras raises, the file cannot be read
        raise ArtifactError(f"from_keras: {named}: cannot load the Keras model "
                            f"({type(err).__name__}: {err})") from err


def _legacy_copy(path: Path, tmp: Path) -> Path:
    """The legacy file itself, or a copy whose model config Keras 3 accepts."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as err:
        raise ArtifactError(f"from_keras: {path}: not an HDF5 file ({err})") from None
    if raw is None:
        raise ArtifactError(f"from_keras: {path}: an HDF5 file without a model config (a "
                            f"weights-only file?); save the whole model (model.save)")
    config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    if not _drop_time_major(config, path):
        return path
    copy = tmp / path.name
    shutil.copyfile(path, copy)
    with h5py.File(copy, "r+") as f:
        f.attrs["model_config"] = json.dumps(config)
    return copy


def _drop_time_major(node: Any, path: Path) -> bool:
    """Removes `time_major: false` from every layer config under `node`;
    True when one was removed."""
    changed = False
    if isinstance(node, dict):
        config = node.get("config")
        if isinstance(config, dict) and "time_major" in config:
            if config["time_major"]:
                raise ConfigError(f"from_keras: {path}: layer {config.get('name')!r} "
                                  f"({node.get('class_name')}) has time_major=True, which "
                                  f"Keras 3 and layerc do not support")
            del config["time_major"]
            changed = True
        for value in node.values():
            changed |= _drop_time_major(value, path)
    elif isinstance(node, list):
        for value in node:
            changed |= _drop_time_major(value, path)
    return changed
