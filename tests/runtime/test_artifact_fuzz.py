"""The artifact fuzzer (issue 16): artifacts edited one field, one byte or
one array at a time, their sha256 recomputed as a forger would, each loaded
and run in a fresh process (tests/artifact_fuzz.py). Every outcome must be a
layerc.LayercError or the original's outputs: never another exception, a
crash or a hang.

The suite draws FUZZ_CASES edits (derandomized: the same ones every run). A
long fuzz: LAYERC_FUZZ_CASES=3000 (about 2 minutes here), and
LAYERC_FUZZ_SEED=N to draw another sample, e.g.
  LAYERC_FUZZ_CASES=3000 LAYERC_FUZZ_SEED=7 python -m pytest \
      tests/runtime/test_artifact_fuzz.py -k edited -q
or, for a table of the outcomes, `python tests/artifact_fuzz.py fuzz --cases
3000 --seed 7`.
"""

import json
import os

import pytest
from hypothesis import settings

import artifact_fuzz as fuzz

FUZZ_CASES = int(os.environ.get("LAYERC_FUZZ_CASES", 30 * settings.default.max_examples))
FUZZ_SEED = os.environ.get("LAYERC_FUZZ_SEED")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return fuzz.make_artifacts(tmp_path_factory.mktemp("fuzz"))


def test_edited_artifacts_are_refused_or_run_right(made):
    """Every model kind's parts, edited: the memory plan's offsets and arena
    size get only values of another type here (the plan verifier judges
    their values: see the test below)."""
    edits = fuzz.draw_edits(made, FUZZ_CASES, None if FUZZ_SEED is None else int(FUZZ_SEED))
    outcomes = fuzz.run(edits, made)
    wrong = [str(o) for o in outcomes if o.kind not in fuzz.OK]
    assert not wrong, f"{len(edits)} cases: {fuzz.tally(outcomes)}\n" + "\n".join(wrong)
    refused = sum(o.kind == "refused" for o in outcomes)
    assert refused > len(edits) // 2  # the edits reach what they should


def _plan_edit(made, model, choose):
    """An edit of a memory plan value of `model`'s artifact: `choose(plan)`
    gives (path under memory_plan, value)."""
    graph = json.loads(fuzz.read_parts(made[model]["artifact"])["graph.json"])
    path, value = choose(graph["memory_plan"])
    return fuzz.Edit(model, "graph.json", ("memory_plan", *path), "set", value)


PLANS = {
    # Before the plan verifier (ir.check_plan, codegen/plan_check.py), each of
    # these crashed the process (SIGSEGV, or SIGABRT from a damaged heap), or
    # raised a bare ValueError from the program: the loader checks the plan's
    # structure, not its values.
    "an input past the arena's end":
        lambda plan: (("offsets", 0, 2), plan["arena_size"]),
    "a tensor far past the arena's end":
        lambda plan: (("offsets", 1, 2), 2**31 - 1),
    "a tensor at the arena's end":
        lambda plan: (("offsets", 2, 2), plan["arena_size"]),
    "an arena of nothing":
        lambda plan: (("arena_size",), 0),
}


MODELS = ("conv2d", "mlp")


@pytest.fixture(scope="module")
def forged_plans(made):
    """The outcome of each of PLANS on each of MODELS, run in one go."""
    cases = [(model, how) for model in MODELS for how in sorted(PLANS)]
    outcomes = fuzz.run([_plan_edit(made, m, PLANS[h]) for m, h in cases], made)
    return dict(zip(cases, outcomes))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("how", sorted(PLANS))
def test_forged_memory_plans_are_refused(forged_plans, model, how):
    outcome = forged_plans[model, how]
    assert outcome.kind == "refused", str(outcome)
