"""layerc.runtime: running compiled programs (and, later, artifacts and state)."""

from layerc.runtime.compiled_model import CompiledModel

__all__ = ["CompiledModel"]
