"""The pass manager names a pass that fails, and the node it was rewriting."""

from dataclasses import dataclass

import pytest

import layerc
from layerc.ir import Graph, OpKind, PassError, ShapeError
from layerc.layers import Activation, Dense, Input
from layerc.passes import Pass, PassManager, PassResult
from layerc.passes.base import rewriting


def graph() -> Graph:
    return layerc.Sequential([Input((3,)), Dense(2, name="d1"), Activation("tanh", name="act"),
                              Dense(1, name="d2")]).to_graph()


@dataclass(frozen=True)
class Failing(Pass):
    """Raises `error` while rewriting the first node of kind `at` (or outside
    any node when `at` is None)."""

    error: Exception
    at: OpKind | None = OpKind.ACTIVATION
    name = "failing"

    def run(self, graph: Graph) -> PassResult:
        for node in graph.nodes():
            if node.op is self.at:
                with rewriting(node):
                    raise self.error
        raise self.error


def test_a_bug_in_a_pass_is_a_pass_error_naming_the_pass_the_node_and_its_neighbours():
    with pytest.raises(PassError) as failure:
        PassManager([Failing(KeyError("width"))]).run(graph())
    message = str(failure.value)
    assert message.startswith("pass failing failed rewriting %act (act (Activation) at ")
    assert "KeyError: 'width'" in message
    lines = message.splitlines()
    assert any(line.startswith("> %act = activation(%d1)") for line in lines)
    assert any(line.startswith("  %d1 = dense(") for line in lines)  # its producer
    assert any(line.startswith("  %d2 = dense(%act)") for line in lines)  # its user
    assert isinstance(failure.value.__cause__, KeyError)


def test_a_layerc_error_keeps_its_class_and_gains_the_pass_name():
    with pytest.raises(ShapeError, match=r"^pass failing failed rewriting %act .*: too wide"):
        PassManager([Failing(ShapeError("too wide"))]).run(graph())


def test_a_failure_outside_any_node_still_names_the_pass():
    with pytest.raises(PassError, match=r"^pass failing failed: ValueError: no node$"):
        PassManager([Failing(ValueError("no node"), at=None)]).run(graph())
