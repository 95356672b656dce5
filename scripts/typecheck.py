"""Runs mypy over the layerc package as it installs (`make lint`).

pyproject.toml maps the folders ir/, passes/, codegen/ and runtime/ to the
subpackages layerc.ir, layerc.passes, ... (setuptools package-dir); mypy
finds modules by folder, and an editable install's import hook is invisible to
it. So this builds the installed layout as a tree of symlinks in
build/typecheck, runs `mypy -p layerc` there (options in pyproject.toml's
[tool.mypy]) and prints mypy's report with each path as it is in the checkout.
Exits with mypy's status.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ir", "passes", "codegen", "runtime")  # installed as layerc.<stage>


def layout(tree: Path) -> None:
    """build/typecheck/layerc: layerc/'s entries, plus a link per stage folder."""
    if tree.exists():
        shutil.rmtree(tree)
    package = tree / "layerc"
    package.mkdir(parents=True)
    for entry in (ROOT / "layerc").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for stage in STAGES:
        (package / stage).symlink_to(ROOT / stage)


def main() -> int:
    tree = ROOT / "build" / "typecheck"
    layout(tree)
    run = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                          str(ROOT / "pyproject.toml"), "-p", "layerc"],
                         cwd=tree, capture_output=True, text=True)
    stages = "|".join(STAGES)
    report = re.sub(rf"^layerc/({stages})/", r"\1/", run.stdout, flags=re.MULTILINE)
    sys.stdout.write(report)
    sys.stderr.write(run.stderr)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
