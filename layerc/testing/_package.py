"""The `layerc.testing` package module, for the names its submodules read from it
at call time rather than bind at import.

Three names are looked up on the package each time they are used: `LAYER_MAKERS`
(where `register_layer_maker` writes and what the strategies draw from by
default), `interpret` (the reference interpreter) and `compile_model`. Before the
package was split they were globals of one module, so rebinding them on
`layerc.testing` (as tests do with `monkeypatch.setattr(testing, "interpret", ...)`)
changed what the strategies and the check use; reading them through `package()`
keeps that true now that the code lives in submodules.
"""

from __future__ import annotations

import sys
from types import ModuleType

_NAME = __name__.rpartition(".")[0]  # "layerc.testing"


def package() -> ModuleType:
    """The `layerc.testing` module as it is now (its attributes as last bound)."""
    return sys.modules[_NAME]
