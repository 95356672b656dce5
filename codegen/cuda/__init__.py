"""layerc.codegen.cuda: the Numba-CUDA backend (`ops/` holds each op family's
kernels, launchers and lowerings; `program.py` builds the launch plan).

Importing this package does not import numba.cuda; building a program does
(see device.py), and raises TargetError when no GPU, driver or simulator can
run it.
"""
