"""The closed set of op kinds the IR knows. Later layer families add members."""

from __future__ import annotations

from enum import Enum


class OpKind(str, Enum):
    INPUT = "input"
    DENSE = "dense"
    ACTIVATION = "activation"
    DROPOUT = "dropout"
    FLATTEN = "flatten"
    RESHAPE = "reshape"
    VIEW = "view"
    TRANSPOSE = "transpose"
    ADD = "add"
    SUBTRACT = "subtract"
    MULTIPLY = "multiply"
    AVERAGE = "average"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    MASKED_MERGE = "masked_merge"
    CONCATENATE = "concatenate"
    CONV = "conv"
    CONV_TRANSPOSE = "conv_transpose"
    POOL = "pool"
    GLOBAL_POOL = "global_pool"
    LOCAL = "local"
    EMBEDDING = "embedding"
    RECURRENT = "recurrent"
    BATCH_NORM = "batch_norm"
    RESCALE = "rescale"
    REPEAT = "repeat"
    PAD = "pad"
    CROP = "crop"
    UPSAMPLE = "upsample"
    BROADCAST = "broadcast"
    REVERSE = "reverse"
    RELU = "relu"
    ELU = "elu"
    PRELU = "prelu"
    SOFTMAX = "softmax"
    GLU = "glu"
    LAYER_NORM = "layer_norm"
    GROUP_NORM = "group_norm"
    NORMALIZE = "normalize"
    MASKING = "masking"
    DOT = "dot"
    ATTENTION = "attention"
    RESIZE = "resize"

    def __str__(self) -> str:
        return self.value

