"""Layer makers. `base` holds the `LayerMaker` protocol, the registry
(`LAYER_MAKERS`, `register_layer_maker`, `draw_layer`) and the weight and Dense
helpers; `spatial` the helpers of the windowed makers; every other module is one
layer family (mirroring the op families of `layerc.ir.ops`: `core`, `conv`,
`pool`, `local`) and registers its makers with `@register_layer_maker`.

Importing this package imports every module in it, in sorted name order, so a
new layer family is one new file here: its makers join the default draws.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in sorted(info.name for info in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
