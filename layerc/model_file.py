"""Loading a model named on the command line: `file.py[:name]`, a `.keras`
file, a legacy Keras `.h5` file, or an artifact."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from layerc.errors import ConfigError, LayercError
from layerc.models import Model


def load_source(spec: str, target: str | None = None, key: bytes | None = None) -> Any:
    """A layerc Model (from file.py[:name], a .keras or a .h5 file) or a
    CompiledModel (from an artifact, its signature checked with `key`, else
    with $LAYERC_SIGNING_KEY_FILE's)."""
    if spec.lower().endswith((".keras", ".h5", ".hdf5")):
        from layerc.keras_import import from_keras

        return from_keras(spec)
    if not spec.endswith(".py") and Path(spec).is_file():
        from layerc.runtime import load

        return load(spec, target, key=key)  # ArtifactError names a file that is no artifact
    return load_model_file(spec)


def load_model_file(spec: str) -> Model:
    """Runs file.py and returns its `name` (a model, or a function returning one).
    Without a name: a variable called `model`, else the only Model in the file."""
    path_text, _, name = spec.partition(":") if not spec.endswith(".py") else (spec, "", "")
    path = Path(path_text)
    if path.suffix != ".py":
        if not path.exists():
            raise ConfigError(f"{spec}: no such file")
        raise ConfigError(f"{spec}: expected file.py[:name], a .keras or .h5 file or a layerc "
                          f"artifact")
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        namespace = runpy.run_path(str(path), run_name="__layerc_model__")
    except LayercError:
        raise  # already names the layer and the line
    except Exception as err:  # noqa: BLE001  (the user's file failed: say so in one line)
        raise ConfigError(f"{path}: running it failed: {type(err).__name__}: {err}") from err
    if name:
        if name not in namespace:
            raise ConfigError(f"{path}: defines no {name!r}")
        found = namespace[name]
    elif isinstance(namespace.get("model"), Model):
        found = namespace["model"]
    else:
        models = [v for v in namespace.values() if isinstance(v, Model)]
        if len(models) != 1:
            raise ConfigError(f"{path}: found {len(models)} models; name one as {path}:NAME")
        found = models[0]
    if callable(found) and not isinstance(found, Model):
        try:
            found = found()
        except LayercError:
            raise
        except Exception as err:  # noqa: BLE001
            raise ConfigError(f"{spec}: calling {name or 'it'}() failed: "
                              f"{type(err).__name__}: {err}") from err
    if not isinstance(found, Model):
        raise ConfigError(f"{spec}: expected a layerc model or a function returning one, got "
                          f"{type(found).__name__}")
    return found
