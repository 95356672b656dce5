"""Codes shared by the CUDA lowerings and kernels (no numba.cuda import here).

Activations are numbered in the order of the IR's table, so a kernel takes
the activation as an int and one compiled kernel serves every activation.
"""

from __future__ import annotations

from layerc.ir.activations import ACTIVATIONS as _TABLE
from layerc.ir.activations import ROW_WISE

ACTIVATIONS = tuple(_TABLE)
ACT_CODE = {name: i for i, name in enumerate(ACTIVATIONS)}
ROW_WISE_CODES = frozenset(ACT_CODE[name] for name in ROW_WISE)

# binary ops of the element-wise merges
B_ADD, B_SUB, B_MUL, B_MAX, B_MIN = 0, 1, 2, 3, 4
BINOP_NAMES = {B_ADD: "add", B_SUB: "sub", B_MUL: "mul", B_MAX: "max", B_MIN: "min"}

# recurrent cells; initial states
SIMPLE_RNN, GRU, LSTM = 0, 1, 2
CELLS = {"simple_rnn": SIMPLE_RNN, "gru": GRU, "lstm": LSTM}
INIT_ZEROS, INIT_ARENA, INIT_STATE = 0, 1, 2
LOG_SOFTMAX_CODE = ACT_CODE["log_softmax"]
