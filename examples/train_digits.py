"""Trains the small convnet that `make demo` compiles: scikit-learn's bundled
8x8 handwritten digits (1,797 images, no download), 80% to train, 20% held out.

    .venv/bin/pip install scikit-learn   # keras and torch too: pip install -e '.[keras]'
    .venv/bin/python examples/train_digits.py

Only this script needs scikit-learn, keras and torch; layerc and the demo
(examples/digits_demo.py) do not. It was run once and its outputs are
committed, so nobody has to run it again; run it to retrain. Seeded (Keras's
seed, a fixed split), on Keras's torch backend. It writes, next to itself:

- digits_cnn.keras: the trained model (no optimizer state: it is for inference);
- digits_test.npz: the held-out split (`images` float32 (n, 8, 8, 1) in [0, 1],
  `labels` int64 (n,)) and Keras's softmax outputs on it (`keras_probs`);
- digits_keras.json: Keras's test accuracy, its count of correct answers and
  its predicted labels, which the demo's must equal.
"""

import json
import os
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"  # the recorded results come from this backend

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 0
EPOCHS = 20


def convnet() -> keras.Sequential:
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax"),
    ], name="digits_cnn")


def main() -> None:
    keras.utils.set_random_seed(SEED)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]  # pixels are 0..16
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.2, random_state=SEED, stratify=digits.target)

    model = convnet()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0)
    print(f"trained {EPOCHS} epochs in {time.perf_counter() - started:.1f} s")

    # What ships: the same layers and weights, without the optimizer's state
    # (clear_session: the layers get their first names again, conv2d, ...).
    weights = model.get_weights()
    keras.utils.clear_session()
    trained = convnet()
    trained.set_weights(weights)
    probs = trained.predict(x_test, verbose=0)
    predicted = probs.argmax(axis=1)
    correct = int((predicted == y_test).sum())
    accuracy = correct / len(y_test)
    print(f"Keras test accuracy: {accuracy:.4%} ({correct}/{len(y_test)})")

    trained.save(HERE / "digits_cnn.keras")
    np.savez_compressed(HERE / "digits_test.npz", images=x_test,
                        labels=y_test.astype(np.int64), keras_probs=probs)
    record = {"accuracy": accuracy, "correct": correct, "count": len(y_test),
              "predicted": predicted.tolist(), "keras": keras.__version__,
              "backend": keras.backend.backend(), "seed": SEED, "epochs": EPOCHS}
    (HERE / "digits_keras.json").write_text(json.dumps(record) + "\n")
    for name in ("digits_cnn.keras", "digits_test.npz", "digits_keras.json"):
        print(f"wrote examples/{name} ({(HERE / name).stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
