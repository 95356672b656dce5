"""The Numba CPU backend: a cached kernel library and a plan interpreter
(`ops/` holds each op family's opcodes, kernels and lowerings)."""
