"""Instruction and activation codes shared by the CPU lowerings and interpreter.

A plan is an int64 array with one row per instruction: the opcode, then
operands.  Arena offsets are per sample (scaled by the batch at run time);
weight offsets index the flat weight arena.
"""

from __future__ import annotations

WIDTH = 10  # columns per instruction row

# opcodes
DENSE = 1  # x, w, b (-1: none), y, rows per sample, k, n, act
ACT = 2  # x, y, values per sample, row length, act
COPY = 3  # x, y, values per sample
BINARY = 4  # a, b, y, values per sample, binop
SCALE = 5  # x, y, values per sample, weight offset of the scale factor
CONCAT = 6  # x, y, outer per sample, inner, dst stride, dst start
TRANSPOSE_CS = 7  # x, y, channels, spatial: (C, S) -> (S, C) per sample

OPNAMES = {DENSE: "dense", ACT: "act", COPY: "copy", BINARY: "binary", SCALE: "scale",
           CONCAT: "concat", TRANSPOSE_CS: "transpose_cs"}

# binary ops
B_ADD, B_SUB, B_MUL, B_MAX, B_MIN = 0, 1, 2, 3, 4
BINOP_NAMES = {B_ADD: "add", B_SUB: "sub", B_MUL: "mul", B_MAX: "max", B_MIN: "min"}

# activations (same names as layerc.ir.activations)
ACTIVATIONS = (
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
    "hard_sigmoid", "tanh", "softmax", "log_softmax", "softplus", "softsign", "silu",
    "hard_silu", "exponential", "mish",
)
ACT_CODE = {name: i for i, name in enumerate(ACTIVATIONS)}
