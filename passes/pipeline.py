"""The default pass order, one line of reason each."""

from __future__ import annotations

from layerc.passes.base import Pass
from layerc.passes.dce import DeadCodeElimination
from layerc.passes.drop_dropout import DropDropout
from layerc.passes.fold_batchnorm import FoldBatchNorm
from layerc.passes.fold_padding import FoldPadding
from layerc.passes.fold_reshape import FoldReshape
from layerc.passes.fuse_activation import FuseActivation
from layerc.passes.plan_memory import PlanMemory
from layerc.passes.specialize_padding import SpecializePadding

DEFAULT: tuple[tuple[Pass, str], ...] = (
    (DropDropout(), "dropout is the identity at inference; removing it exposes fusions"),
    (FoldBatchNorm(), "batch normalizations after a Dense or Conv fold into its kernel and bias"),
    (FoldPadding(), "a zero padding before a convolution becomes its pads: no padded copy"),
    (FoldReshape(), "reshapes and flattens become views, so they cost no copy"),
    (FuseActivation(), "activations run in the producer's epilogue, saving a pass over memory"),
    (SpecializePadding(), "explicit pads per side and a kernel variant for conv and pooling"),
    (DeadCodeElimination(), "drop nodes and weights no output needs"),
    (PlanMemory(), "last: place the final tensors in one arena with buffer reuse"),
)


def default_pipeline() -> tuple[Pass, ...]:
    return tuple(p for p, _ in DEFAULT)


def by_name(name: str) -> Pass:
    for p, _ in DEFAULT:
        if p.name == name:
            return p
    raise KeyError(f"unknown pass {name!r}; passes: {', '.join(p.name for p, _ in DEFAULT)}")
