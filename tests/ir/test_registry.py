"""The op registry: one rule per op kind, carrying what every stage asks
about an op (its traits), and a clear error for a kind it does not know."""

import numpy as np
import pytest

import layerc
from layerc.ir import IRError, OpKind, rule_for
from layerc.ir.ops.recurrent import RecurrentAttrs
from layerc.layers import LSTM, Activation, Dense, Embedding, Flatten, Input, Reshape
from layerc.passes import FuseActivation


def test_every_op_kind_has_a_rule():
    for kind in OpKind:
        assert rule_for(kind).kind is kind


def test_an_unknown_op_kind_is_an_ir_error_naming_the_known_ones():
    with pytest.raises(IRError, match=r"unknown op kind 'multi_head_attention'.*dense"):
        rule_for("multi_head_attention")  # type: ignore[arg-type]


def test_fuse_activation_asks_the_epilogue_trait():
    """An LSTM has an `activation` attribute too, but it is the cell's, not an
    epilogue: the activation after it stays a node, and the pass says why."""
    assert not rule_for(OpKind.RECURRENT).epilogue and rule_for(OpKind.DENSE).epilogue
    model = layerc.Sequential([Input((3, 2)), LSTM(4), Activation("relu")])
    result = FuseActivation().run(model.to_graph())
    assert result.changed == 0
    assert any("recurrent, which has no epilogue" in note for note in result.notes)


@pytest.mark.parametrize("cell, stateful, shapes", [
    ("lstm", True, ((5,), (5,))), ("gru", True, ((5,),)), ("lstm", False, ())])
def test_stateful_ops_declare_their_state_shapes(cell, stateful, shapes):
    attrs = RecurrentAttrs(cell, 5, stateful=stateful)
    assert rule_for(OpKind.RECURRENT).state_shapes(attrs) == shapes


def test_indices_are_checked_through_ops_that_only_move_values():
    """The embedding's vocabulary bounds the model input it reads through a
    Reshape and a Flatten (the `rearranges` trait): a bad index is an
    InputError, not a NaN row."""
    model = layerc.Sequential([Input((2, 3)), Reshape((6,)), Flatten(), Embedding(4, 2),
                               Flatten(), Dense(1)])
    compiled = layerc.compile(model)
    ((name, (size, label)),) = compiled.index_bounds.items()
    assert name == model.inputs[0].layer.name and size == 4 and "(Embedding)" in label
    with pytest.raises(layerc.InputError, match=r"index 4\.0 is outside \[0, 4\)"):
        compiled.predict(np.full((1, 2, 3), 4.0, np.float32))
