"""examples/digits_demo.py: the trained digits convnet, compiled by layerc,
predicts what Keras recorded (examples/train_digits.py), and the committed
files stay small."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import layerc

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO = EXAMPLES / "digits_demo.py"
RECORD = json.loads((EXAMPLES / "digits_keras.json").read_text())


@pytest.mark.parametrize("name", ["digits_cnn.keras", "digits_test.npz", "digits_keras.json"])
def test_committed_file_is_small(name):
    assert (EXAMPLES / name).stat().st_size < 200 * 1024


def test_layerc_predicts_the_labels_keras_recorded():
    test = np.load(EXAMPLES / "digits_test.npz")
    compiled = layerc.compile(layerc.from_keras(EXAMPLES / "digits_cnn.keras"))
    probs = compiled.predict(test["images"])
    predicted = probs.argmax(axis=1)
    assert predicted.tolist() == RECORD["predicted"]
    assert int((predicted == test["labels"]).sum()) == RECORD["correct"]
    assert RECORD["correct"] / RECORD["count"] == RECORD["accuracy"]
    np.testing.assert_allclose(probs, test["keras_probs"], rtol=0, atol=1e-5)


def test_demo_prints_the_accuracy_keras_recorded(tmp_path):
    run = subprocess.run([sys.executable, str(DEMO), str(tmp_path / "digits.lcz")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    accuracy = f"{RECORD['accuracy']:.2%} ({RECORD['correct']}/{RECORD['count']}"
    assert f"layerc {accuracy}), Keras {accuracy}, recorded" in run.stdout
    assert "throughput at batch 256:" in run.stdout
    assert (tmp_path / "digits.lcz").is_file()


def test_demo_fails_when_the_accuracy_differs(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("digits_demo", DEMO)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    record = tmp_path / "digits_keras.json"
    record.write_text(json.dumps({**RECORD, "correct": RECORD["correct"] - 1}))
    monkeypatch.setattr(demo, "KERAS_RECORD", record)
    with pytest.raises(SystemExit, match="differs from Keras's"):
        demo.main([str(tmp_path / "digits.lcz")])
