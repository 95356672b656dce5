"""layerc.codegen.cuda: Numba-CUDA lowerings and the device launch plan."""
