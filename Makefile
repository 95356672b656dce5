# layerc: `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: install demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(PY)
	$(PIP) install -q -e .

# The trained digits convnet first (examples/digits_demo.py: accuracy against
# Keras's, latency, throughput), then the IR of a random-weight MLP and the CLI.
demo: install
	$(PY) examples/digits_demo.py
	$(PY) examples/mlp.py
	mkdir -p build
	$(VENV)/bin/layerc compile examples/digits_cnn.keras -o build/digits.lcz
	$(VENV)/bin/layerc inspect build/digits.lcz
	$(PY) -c "import numpy as np; np.save('build/digits.npy', np.load('examples/digits_test.npz')['images'][:3])"
	$(VENV)/bin/layerc run build/digits.lcz --input build/digits.npy

test: $(PY)
	$(PIP) install -q -e '.[test]'
	LAYERC_VERIFY=1 KERAS_BACKEND=torch $(PY) -m pytest

lint: $(PY)
	$(PIP) install -q -e '.[dev,test]'
	$(VENV)/bin/ruff check layerc ir passes codegen runtime scripts
	$(PY) scripts/typecheck.py

bench: $(PY)
	$(PIP) install -q -e '.[bench]'
	KERAS_BACKEND=torch $(PY) benchmarks/run.py
	$(PY) benchmarks/cold_start.py
	$(PY) benchmarks/soak.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
