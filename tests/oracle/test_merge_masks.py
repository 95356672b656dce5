"""Merge layers combining masks, against Keras 3.15.

Keras's element-wise merges give the OR of their inputs' masks when every
input is masked; Maximum, Minimum and Multiply also skip masked values (the
other input's value, or 1 for Multiply, stands in; Multiply zeroes steps every
input masks); Concatenate ORs along the last axis and joins the masks along
another. The models return the merged sequence itself (so masked steps'
values count), an LSTM over it (which consumes the combined mask) and a masked
average; each is built in layerc and in Keras, and also converted by
from_keras, from the object and from a .keras file."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.errors import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ATOL = 1e-5
VOCAB, STEPS, WIDTH = 9, 6, 4
MERGES = ["Add", "Subtract", "Average", "Multiply", "Maximum", "Minimum", "Concatenate",
          "Concatenate1"]
# What feeds a merge input: the first or second masked embedding, an unmasked
# embedding, or a Dense over the first (its mask passes on).
SOURCES = ["emb0", "emb1", "plain", "dense0"]


def build(ns: Any, merge: str, sources: list[str]) -> tuple[list, list]:
    """The model in namespace `ns` (layerc or keras), layer names shared."""
    ids = [ns.Input((STEPS,), dtype="int32", name=f"ids{i}") for i in range(2)]
    made = {"emb0": ns.layers.Embedding(VOCAB, WIDTH, mask_zero=True, name="emb0")(ids[0]),
            "emb1": ns.layers.Embedding(VOCAB, WIDTH, mask_zero=True, name="emb1")(ids[1]),
            "plain": ns.layers.Embedding(VOCAB, WIDTH, name="plain")(ids[1])}
    made["dense0"] = ns.layers.Dense(WIDTH, name="dense0")(made["emb0"])
    ins = [made[s] for s in sources]
    if merge.startswith("Concatenate"):
        merged = ns.layers.Concatenate(axis=1 if merge.endswith("1") else -1, name="merge")(ins)
    else:
        merged = getattr(ns.layers, merge)(name="merge")(ins)
    return ids, [merged, ns.layers.LSTM(3, name="lstm")(merged),
                 ns.layers.GlobalAveragePooling1D(name="gap")(merged)]


def token_ids(rng: np.random.Generator) -> list[np.ndarray]:
    """Two batches of ids with padding (0) at the ends, in holes and whole rows."""
    xs = []
    for _ in range(2):
        x = rng.integers(1, VOCAB, (5, STEPS)).astype(np.int32)
        x[1, 3:] = 0
        x[2, :2] = 0
        x[3, rng.integers(0, STEPS, 2)] = 0
        x[4] = 0 if rng.random() < 0.5 else x[4]
        x[rng.random((5, STEPS)) < 0.2] = 0
        xs.append(x)
    return xs


def compare(oracle: Any, merge: str, sources: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    keras = oracle.keras
    model = layerc.Model(*build(layerc, merge, sources))
    kmodel = keras.Model(*build(keras, merge, sources))
    oracle.randomize(model, rng, 1.0)
    oracle.copy_weights(model, kmodel)
    xs = token_ids(rng)
    expected = [np.asarray(y) for y in kmodel.predict(xs, verbose=0)]
    results = {"interpret": layerc.ir.interpret(model.to_graph(), xs),
               "compiled": layerc.compile(model).predict(xs),
               "from_keras": layerc.compile(layerc.from_keras(kmodel)).predict(xs)}
    for name, outs in results.items():
        for i, (mine, theirs) in enumerate(zip(outs, expected)):
            oracle.assert_close(np.asarray(mine), theirs, f"{merge}{sources} {name} output {i}",
                                ATOL)


SWEEP = settings(max_examples=12, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@SWEEP
@given(merge=st.sampled_from(MERGES), n=st.integers(2, 3), seed=st.integers(0, 2**16),
       data=st.data())
def test_merges_combine_masks_as_keras(oracle, merge, n, seed, data):
    sources = data.draw(st.lists(st.sampled_from(SOURCES), min_size=n, max_size=n))
    if merge == "Subtract":
        sources = sources[:2]
    if merge == "Concatenate1" and 0 < sum(s != "plain" for s in sources) < len(sources):
        sources = [s if s != "plain" else "emb1" for s in sources]  # refused: see below
    compare(oracle, merge, sources, seed)


@pytest.mark.parametrize("merge", ["Maximum", "Minimum", "Multiply"])
@pytest.mark.parametrize("sources", [["emb0", "emb1"], ["emb0", "plain"], ["plain", "emb1"],
                                     ["emb0", "dense0"], ["emb0", "emb1", "plain"],
                                     ["plain", "emb0", "emb1"], ["emb0", "emb1", "dense0"]])
def test_value_masking_merges_every_arrangement(oracle, merge, sources):
    compare(oracle, merge, sources, 7)


def test_masked_values_matter(oracle):
    """Guard: Keras's Maximum of masked inputs differs from the plain maximum
    at masked steps, so the tests above see the masks."""
    keras = oracle.keras
    kmodel = keras.Model(*build(keras, "Maximum", ["emb0", "emb1"]))
    xs = token_ids(np.random.default_rng(3))
    merged = np.asarray(kmodel.predict(xs, verbose=0)[0])
    e0, e1 = (keras.ops.convert_to_numpy(kmodel.get_layer(f"emb{i}")(x))
              for i, x in enumerate(xs))
    assert np.abs(merged - np.maximum(e0, e1)).max() > 1e-3


def test_loaded_keras_file_combines_masks(oracle, tmp_path):
    """A loaded .keras graph recomputes masks as op nodes of its own."""
    keras = oracle.keras
    kmodel = keras.Model(*build(keras, "Multiply", ["emb0", "emb1", "dense0"]))
    kmodel.save(tmp_path / "m.keras")
    xs = token_ids(np.random.default_rng(5))
    model = layerc.from_keras(tmp_path / "m.keras")
    for i, (mine, theirs) in enumerate(zip(layerc.compile(model).predict(xs),
                                           kmodel.predict(xs, verbose=0))):
        oracle.assert_close(np.asarray(mine), np.asarray(theirs), f"output {i}", ATOL)


def test_joining_a_masked_and_an_unmasked_input_along_steps_is_refused():
    ids = layerc.Input((STEPS,), dtype="int32")
    masked = layerc.layers.Embedding(VOCAB, WIDTH, mask_zero=True)(ids)
    plain = layerc.layers.Embedding(VOCAB, WIDTH)(ids)
    with pytest.raises(ConfigError, match=r"concatenate.*masked and an unmasked input"):
        layerc.layers.Concatenate(axis=1)([masked, plain])
