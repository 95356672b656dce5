"""The numbered choices kernels take as int operands, listed once for every
backend: activations (in the IR's table order), element-wise binary ops,
recurrent cells, where a recurrent layer's states start, convolution
variants. Each table is a tuple of names; a kernel reads the codes as a
namedtuple's fields (`ACT.relu`), which Numba folds into constants.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from layerc.ir.activations import ACTIVATIONS as _ACTIVATION_TABLE
from layerc.ir.activations import ROW_WISE
from layerc.ir.ops.conv import VARIANTS
from layerc.ir.ops.recurrent import GATES


def _codes(kind: str, names: tuple[str, ...]) -> Any:
    """A namedtuple whose field `name` is that name's code (its index)."""
    return namedtuple(kind, names)(*range(len(names)))


ACTIVATIONS = tuple(_ACTIVATION_TABLE)
ACT = _codes("Activation", ACTIVATIONS)
ROW_WISE_CODES = frozenset(ACTIVATIONS.index(name) for name in ROW_WISE)

BINOPS = ("add", "sub", "mul", "max", "min")
BINOP = _codes("Binop", BINOPS)

CELLS = tuple(GATES)  # simple_rnn, gru, lstm
CELL = _codes("Cell", CELLS)
GATE_COUNT = tuple(GATES[name] for name in CELLS)  # by cell code

INITS = ("zeros", "arena", "state")  # a recurrent layer's states start as
INIT = _codes("Init", INITS)

# the convolution variants specialize-padding picks (VARIANTS, from the rule)
VARIANT = _codes("Variant", VARIANTS)

# How the program listing shows an operand: by its field name.
NAMES: dict[str, tuple[str, ...]] = {
    "act": ACTIVATIONS, "rec_act": ACTIVATIONS, "binop": BINOPS, "cell": CELLS,
    "init": INITS, "variant": VARIANTS}
