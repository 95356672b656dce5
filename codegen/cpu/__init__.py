"""The Numba CPU backend: a cached kernel library and a plan interpreter."""

from layerc.codegen.cpu.program import Program, Slot, build_program

__all__ = ["Program", "Slot", "build_program"]
