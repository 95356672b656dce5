"""layerc.runtime: running compiled programs, their states, and artifacts."""

from layerc.runtime.artifact import load
from layerc.runtime.compiled_model import CompiledModel

__all__ = ["CompiledModel", "load"]
