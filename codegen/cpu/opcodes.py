"""Instruction and activation codes shared by the CPU lowerings and interpreter.

A plan is an int64 array with one row per instruction: the opcode, then
operands.  Arena offsets are per sample (scaled by the batch at run time);
weight offsets index the flat weight arena.
"""

from __future__ import annotations

WIDTH = 24  # columns per instruction row

# opcodes
DENSE = 1  # x, w, b (-1: none), y, rows per sample, k, n, act
ACT = 2  # x, y, values per sample, row length, act
COPY = 3  # x, y, values per sample
BINARY = 4  # a, b, y, values per sample, binop
SCALE = 5  # x, y, values per sample, weight offset of the scale factor
CONCAT = 6  # x, y, outer per sample, inner, dst stride, dst start
TRANSPOSE_CS = 7  # x, y, channels, spatial: (C, S) -> (S, C) per sample
# The window ops see 2-D maps (a 1-D op has height 1) and share the operand
# layout x, w, b, y, scratch, h, w, c, oh, ow, f, kh, kw, sh, sw, ...
CONV = 8  # ..., dh, dw, pt, pl, channels_first, variant, act
POOL = 9  # x, y, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl, channels_first, is_max
GLOBAL_POOL = 10  # x, y, spatial, c, channels_first, is_max, mask (-1: none)
LOCAL = 11  # x, w, b, y, scratch, h, w, c, oh, ow, f, kh, kw, sh, sw, channels_first, act
GATHER = 12  # x (indices), w (table), y, indices per sample, row length, vocabulary,
#             mask output (-1: none; 0 where the index is 0)
# x, wk, wr, b, y, scratch, mask, init (0 zeros, 1 arena, 2 state), h0, c0, return
# state, hT, cT, state slot (-1: not stateful), steps, features, units, cell, act,
# recurrent act, reset_after, return_sequences, go_backwards
RECURRENT = 13

OPNAMES = {DENSE: "dense", ACT: "act", COPY: "copy", BINARY: "binary", SCALE: "scale",
           CONCAT: "concat", TRANSPOSE_CS: "transpose_cs", CONV: "conv", POOL: "pool",
           GLOBAL_POOL: "global_pool", LOCAL: "local", GATHER: "gather",
           RECURRENT: "recurrent"}

# convolution variants (the specialize-padding pass chooses)
V_IM2COL, V_GEMM, V_DIRECT = 0, 1, 2
VARIANTS = {"im2col": V_IM2COL, "gemm": V_GEMM, "direct": V_DIRECT}
VARIANT_NAMES = {code: name for name, code in VARIANTS.items()}

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
