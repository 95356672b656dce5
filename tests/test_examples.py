"""Every example compiles like the reference interpreter, and runs as a script."""

import runpy
import subprocess
import sys

import pytest

from layerc.model_file import load_model_file
from layerc.testing import assert_compiles_like_reference
from example_helpers import MODEL_EXAMPLES as EXAMPLES



@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_compiles_like_reference(path):
    """Examples whose inputs are not floats (token ids) say how to draw them."""
    namespace = runpy.run_path(str(path), run_name="example")
    make = namespace.get("sample_inputs")
    inputs = make() if make is not None else None
    assert_compiles_like_reference(load_model_file(str(path)), inputs=inputs)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_as_a_script(path):
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert "max |compiled - reference interpreter|" in run.stdout
    error = float(run.stdout.rsplit(":", 1)[1])
    assert error <= 1e-5
