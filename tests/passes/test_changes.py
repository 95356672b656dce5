"""The pass manager's account of what each pass changed."""

import layerc
from layerc.compiler import optimize
from layerc.layers import Activation, Conv1D, Dense, Dropout, Flatten, ZeroPadding1D
from layerc.passes import FuseActivation
from layerc.passes.changes import describe_changes


def model():
    x = layerc.Input((6, 2), name="x")
    h = ZeroPadding1D((1, 0), name="zp")(x)
    h = Conv1D(3, 3, padding="same", name="c")(h)
    h = Activation("relu", name="r")(h)
    h = Dropout(0.5, name="drop")(h)
    h = Flatten(name="f")(h)
    return layerc.Model(x, Dense(2, activation="softmax", name="d")(h), name="m")


def test_every_pass_says_what_it_changed():
    _, manager = optimize(model().to_graph())
    changes = dict(manager.changes)
    assert list(changes) == ["drop-dropout", "fold-batchnorm", "fold-padding", "fold-reshape",
                             "fuse-activation",
                             "specialize-padding", "dce", "plan-memory"]
    assert changes["drop-dropout"] == ("removed %drop", "%f: reads %r instead of %drop")
    assert changes["fold-reshape"] == ("%f: flatten -> view",)
    assert changes["fuse-activation"] == (
        "removed %r, %d.activation",
        "%c: activation='linear' -> 'relu'",
        "%f: reads %c instead of %r",
        "%d: activation='linear' -> 'softmax'",
        "outputs %d")
    assert changes["fold-padding"] == (
        "removed %zp",
        "%c: padding='same' -> 'explicit'; pads=None -> ((2, 1),); reads %x instead of %zp")
    assert changes["specialize-padding"] == ("%c: variant='' -> 'direct'",)
    assert changes["dce"] == ()
    (line,) = changes["plan-memory"]
    assert line.startswith("planned the arena: ") and "(naive " in line


def test_an_unchanged_graph_has_nothing_to_say_and_notes_are_kept():
    x = layerc.Input((4,), name="x")
    h = Dense(3, name="a")(x)
    y = Activation("tanh", name="t")(h)
    graph = layerc.Model(x, [y, h]).to_graph()  # the Dense has two readers: no fusion
    assert describe_changes(graph, graph.copy()) == ()
    _, manager = optimize(graph, [FuseActivation()])
    (name, lines), = manager.changes
    assert name == "fuse-activation"
    assert lines and all(line.startswith("note: ") for line in lines)
    assert any("%a" in line for line in lines)
