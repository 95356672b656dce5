"""The CUDA backend's tables: a lowering for every op kind, a launcher for
every declared kernel, and launches checked against the kernels' schemas."""

import pytest

import layerc
from layerc.codegen.cuda import ops  # noqa: F401  (registers lowerings and launchers)
from layerc.codegen.cuda.emitter import KERNELS, Emitter
from layerc.codegen.cuda.launch import LAUNCHERS
from layerc.codegen.cuda.lower import LOWERINGS
from layerc.codegen.cuda.ops.core import COPY
from layerc.ir import OpKind, TargetError
from layerc.layers import Dense, Input
from layerc.passes import PlanMemory


def test_every_op_kind_has_a_cuda_lowering():
    assert set(LOWERINGS) == set(OpKind)


def test_every_kernel_has_a_launcher():
    assert set(KERNELS) == set(LAUNCHERS)


def test_a_launch_with_a_wrong_operand_is_refused():
    graph = PlanMemory().run(layerc.Sequential([Input((2,)), Dense(1, name="d")]).to_graph())
    e = Emitter(graph.graph)
    with pytest.raises(TargetError, match=r"d \(Dense\).*step copy takes x y size; "
                                          r"missing \['size'\], unknown \['count'\]"):
        e.launch(COPY, graph.graph.node("d"), x=0, y=0, count=2)


def test_every_kernel_declares_what_its_launches_touch():
    from layerc.codegen.cuda.footprints import footprint

    assert [name for name in KERNELS if footprint(name) is None] == []
