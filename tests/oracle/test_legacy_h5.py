"""Legacy HDF5 `.h5` models (Keras 2 / tf.keras era) through from_keras.

The fixtures in tests/fixtures/keras2/ were written by tf_keras 2.17 itself
(tests/fixtures/keras2/make_fixtures.py, run once in a throwaway venv with
TensorFlow; the suite never imports TensorFlow), each with Keras 2's own
predictions on its inputs: the oracle here is Keras 2, not Keras 3. The
recurrent ones carry tf.keras's `time_major` key, which Keras 3 refuses."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import layerc
import layerc.ir
from layerc.errors import ArtifactError, ConfigError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "keras2"
NAMES = ["mlp", "convnet", "text_lstm", "functional_gru", "simple_rnn_conv1d"]
ATOL = 1e-5

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]


def fixture(name: str) -> tuple[Path, list[np.ndarray], np.ndarray]:
    data = np.load(FIXTURES / f"{name}.npz")
    xs = [data["x"]] if "x" in data else [data["x0"], data["x1"]]
    return FIXTURES / f"{name}.h5", xs, data["y"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", NAMES)
def test_keras2_files_match_keras2(keras, name):
    path, xs, expected = fixture(name)
    before = digest(path)
    model = layerc.from_keras(path)
    feed = xs if len(xs) > 1 else xs[0]
    for what, got in (("compiled", layerc.compile(model).predict(feed)),
                      ("interpret", layerc.ir.interpret(model.to_graph(), xs)[0])):
        assert got.shape == expected.shape, what
        np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0, err_msg=what)
    assert digest(path) == before  # the file is read, never rewritten


def test_recurrent_fixtures_carry_time_major(keras):
    """Guard: the fixtures are as tf.keras wrote them, so the loader's
    time_major handling is what lets them load."""
    import h5py

    with h5py.File(FIXTURES / "text_lstm.h5") as f:
        assert '"time_major": false' in f.attrs["model_config"]
        assert f.attrs["keras_version"] == "2.17.0"


def test_time_major_true_is_refused_naming_the_layer(keras, tmp_path):
    import h5py

    path = tmp_path / "tm.h5"
    shutil.copyfile(FIXTURES / "text_lstm.h5", path)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][2]["config"]["time_major"] = True
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ConfigError, match=r"tm\.h5: layer 'lstm.*\(LSTM\) has time_major=True"):
        layerc.from_keras(path)


def test_weights_only_and_broken_files_are_refused(keras, tmp_path):
    import h5py

    weights = tmp_path / "weights.h5"
    with h5py.File(weights, "w") as f:
        f.create_dataset("kernel", data=np.zeros((2, 2)))
    with pytest.raises(ArtifactError, match=r"weights\.h5: an HDF5 file without a model "
                                            r"config"):
        layerc.from_keras(weights)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not hdf5 at all")
    with pytest.raises(ArtifactError, match=r"broken\.h5: not an HDF5 file"):
        layerc.from_keras(str(broken))
    with pytest.raises(ConfigError, match=r"model\.pb: expected a Keras 3 '\.keras' file or a "
                                          r"legacy HDF5 '\.h5' model"):
        (tmp_path / "model.pb").write_bytes(b"x")
        layerc.from_keras(tmp_path / "model.pb")


def test_cli_compiles_a_legacy_file(keras, tmp_path):
    path, xs, expected = fixture("mlp")
    out = tmp_path / "mlp.lcz"
    run = subprocess.run([sys.executable, "-m", "layerc", "compile", str(path), "-o", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    np.testing.assert_allclose(layerc.load(out).predict(xs[0]), expected, atol=ATOL, rtol=0)
