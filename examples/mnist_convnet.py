"""The Keras MNIST convnet: two conv/pool stages, dropout, a softmax head.

`python examples/mnist_convnet.py` prints the optimized IR and the CPU program
and checks predictions against the reference interpreter.
"""

import numpy as np

import layerc
from layerc.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D


def build_model() -> layerc.Sequential:
    layerc.utils.set_random_seed(0)
    return layerc.Sequential([
        Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        MaxPooling2D((2, 2)),
        Conv2D(64, (3, 3), activation="relu"),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dropout(0.5),
        Dense(10, activation="softmax"),
    ], name="mnist_convnet")


model = build_model()

if __name__ == "__main__":
    model.summary()
    compiled = layerc.compile(model)
    for name, changed in compiled.passes_applied:
        print(f"#   {name}: {changed} rewrite(s)")
    print(layerc.ir.to_text(compiled.graph))
    print(compiled.program.text)
    x = np.random.default_rng(1).random((4, 28, 28, 1), dtype=np.float32)
    probs = compiled.predict(x)
    reference = layerc.ir.interpret(model.to_graph(), [x])[0]
    print("predicted classes:", probs.argmax(axis=1))
    print("max |compiled - reference interpreter|:", float(np.abs(probs - reference).max()))
