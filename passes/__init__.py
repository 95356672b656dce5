"""layerc.passes: graph rewrites, one per file, and the pass manager."""

from layerc.passes.base import Pass, PassResult
from layerc.passes.dce import DeadCodeElimination
from layerc.passes.drop_dropout import DropDropout
from layerc.passes.fold_batchnorm import FoldBatchNorm
from layerc.passes.fold_padding import FoldPadding
from layerc.passes.fold_reshape import FoldReshape
from layerc.passes.fuse_activation import FuseActivation
from layerc.passes.manager import DumpToFolder, Instrument, PassManager, PrintAfter, Timing
from layerc.passes.pipeline import by_name, default_pipeline
from layerc.passes.plan_memory import PlanMemory
from layerc.passes.specialize_padding import SpecializePadding

__all__ = [
    "DeadCodeElimination", "DropDropout", "DumpToFolder", "FoldBatchNorm", "FoldPadding",
    "FoldReshape", "FuseActivation",
    "Instrument", "Pass", "PassManager", "PassResult", "PlanMemory", "PrintAfter",
    "SpecializePadding", "Timing",
    "by_name", "default_pipeline",
]
