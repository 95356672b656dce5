"""The example models the tests walk: every file of examples/ that defines
build_model (examples/ also holds scripts that run one of them, such as
dask_scoring.py)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py")
                        if "def build_model" in p.read_text())
