"""A trained Keras convnet, compiled by layerc: the first part of `make demo`.

    python examples/digits_demo.py [ARTIFACT]      # default: build/digits.lcz

Compiles examples/digits_cnn.keras (trained by examples/train_digits.py on
scikit-learn's 8x8 digits), saves the artifact, loads it back and scores the
held-out digits (examples/digits_test.npz) with it: the test accuracy must
equal the one Keras recorded (examples/digits_keras.json), else the script
exits non-zero. Then a few digits drawn with their predicted labels, the
latency at batch 1, the throughput at batch 256 and the time from the start
of the script to the first prediction (a first run on a machine includes the
one-time build of the kernels the model uses). Needs only layerc's dependencies.
"""

import time

STARTED = time.perf_counter()  # the time to the first prediction counts the imports

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import layerc  # noqa: E402

HERE = Path(__file__).resolve().parent
KERAS_MODEL = HERE / "digits_cnn.keras"
TEST_SPLIT = HERE / "digits_test.npz"
KERAS_RECORD = HERE / "digits_keras.json"
DEFAULT_ARTIFACT = HERE.parent / "build" / "digits.lcz"
SHOWN = 7  # digits drawn


def compile_and_reload(artifact: Path) -> layerc.CompiledModel:
    """The Keras file compiled, saved as an artifact and loaded back: what a
    server would run."""
    layerc.compile(layerc.from_keras(KERAS_MODEL)).save(artifact)
    return layerc.load(artifact)


def relative(path: Path) -> str:
    """The path from the working folder when it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def shades() -> tuple[str, str]:
    """Shade characters from blank to full, and the mark of a wrong answer;
    ASCII where the terminal's encoding lacks the block characters."""
    try:
        "░▒▓█✗".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return " .-+#", "x"
    return " ░▒▓█", "✗"


def draw(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray) -> str:
    """The digits side by side, two characters a pixel, each captioned with its
    true and predicted label."""
    ramp, wrong = shades()
    levels = np.minimum((images[..., 0] * len(ramp)).astype(int), len(ramp) - 1)
    rows = ["   ".join("".join(ramp[v] * 2 for v in image[r]) for image in levels)
            for r in range(images.shape[1])]
    captions = [f"true {t} pred {p}{' ' + wrong if t != p else ''}".ljust(2 * images.shape[2])
                for t, p in zip(labels, predicted)]
    return "\n".join([*rows, "   ".join(captions).rstrip()])


def median_seconds(model: layerc.CompiledModel, xs: list[np.ndarray]) -> float:
    """The median time of one predict over the inputs, after a warm-up call."""
    model.predict(xs[0])
    times: list[float] = []
    for x in xs:
        t0 = time.perf_counter()
        model.predict(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv: list[str]) -> int:
    artifact = Path(argv[0]) if argv else DEFAULT_ARTIFACT
    artifact.parent.mkdir(parents=True, exist_ok=True)
    test = np.load(TEST_SPLIT)
    images, labels = test["images"], test["labels"]
    keras = json.loads(KERAS_RECORD.read_text())

    model = compile_and_reload(artifact)
    probs = model.predict(images)
    first_prediction = time.perf_counter() - STARTED
    predicted = probs.argmax(axis=1)
    correct = int((predicted == labels).sum())

    print(f"{KERAS_MODEL.name} compiled by layerc, saved as {relative(artifact)} "
          f"({artifact.stat().st_size / 1024:.0f} KB) and loaded back\n")
    print(f"test accuracy on {len(labels)} held-out digits: layerc {correct / len(labels):.2%} "
          f"({correct}/{len(labels)}), Keras {keras['accuracy']:.2%} "
          f"({keras['correct']}/{keras['count']}, recorded by train_digits.py)")
    print(f"max |layerc - Keras| over the softmax outputs: "
          f"{float(np.abs(probs - test['keras_probs']).max()):.2g}\n")
    if correct != keras["correct"] or len(labels) != keras["count"]:
        sys.exit(f"digits_demo: layerc's test accuracy {correct}/{len(labels)} differs from "
                 f"Keras's {keras['correct']}/{keras['count']}")
    disagree = np.flatnonzero(predicted != np.asarray(keras["predicted"]))
    if disagree.size:
        sys.exit(f"digits_demo: layerc and Keras predict different labels for "
                 f"{disagree.size} test digit(s), the first at index {disagree[0]}")

    wrong = np.flatnonzero(predicted != labels)
    shown = list(range(SHOWN - 1)) + [int(wrong[0]) if wrong.size else SHOWN - 1]
    print(draw(images[shown], labels[shown], predicted[shown]) + "\n")

    latency = median_seconds(model, [images[i % len(images)][None] for i in range(300)])
    batch = images[:256]
    throughput = batch.shape[0] / median_seconds(model, [batch] * 30)
    print(f"latency at batch 1: {latency * 1e6:.0f} us per image (median of 300)")
    print(f"throughput at batch 256: {throughput:,.0f} images/s")
    print(f"time from the start of the script to the first prediction: "
          f"{first_prediction:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
