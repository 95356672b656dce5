"""The CPU op families, one file each: opcodes, kernels, the steps that run
their plan rows, and lowerings. Importing this package imports every module
in this folder (in sorted order, which fixes the opcodes' numbers), so a new
op family is one new file here."""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
