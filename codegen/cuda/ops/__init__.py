"""The CUDA op families, one file each: kernels, launchers and lowerings.
Importing this package (which loads numba.cuda) imports every module in this
folder, so a new op family is one new file here."""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
