"""Op rule files; importing this package registers every op kind.

Each file here registers its own op kinds, so a new op family is one new file:
the package imports every module in this folder, in sorted order.
"""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
