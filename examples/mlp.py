"""The MNIST-sized MLP: 784 -> 512 -> 512 -> 10, with dropout and softmax.

Run it (`python examples/mlp.py`) to see the IR before and after the passes,
the CPU program, and predictions; `layerc dump examples/mlp.py` shows the IR.
"""

import numpy as np

import layerc
from layerc.layers import Dense, Dropout


def build_model() -> layerc.Sequential:
    layerc.utils.set_random_seed(0)
    model = layerc.Sequential(name="mlp")
    model.add(Dense(512, activation="relu", input_shape=(784,)))
    model.add(Dropout(0.2))
    model.add(Dense(512, activation="relu"))
    model.add(Dropout(0.2))
    model.add(Dense(10, activation="softmax"))
    return model


model = build_model()

if __name__ == "__main__":
    model.summary()
    print("\n# IR as traced")
    print(layerc.ir.to_text(model.to_graph()))
    compiled = layerc.compile(model)  # ahead of time: passes, codegen, kernels
    print("# IR after the passes")
    for name, changed in compiled.passes_applied:
        print(f"#   {name}: {changed} rewrite(s)")
    print(layerc.ir.to_text(compiled.graph))
    print("# CPU program")
    print(compiled.program.text)
    x = np.random.default_rng(1).random((4, 784), dtype=np.float32)
    probs = compiled.predict(x)
    reference = layerc.ir.interpret(model.to_graph(), [x])[0]
    print("predicted classes:", probs.argmax(axis=1))
    print("row sums:", probs.sum(axis=1))
    print("max |compiled - reference interpreter|:", float(np.abs(probs - reference).max()))
