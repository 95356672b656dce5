"""Targets are one table (name -> program builder); programs follow one protocol."""

import subprocess
import sys

import numpy as np
import pytest

import layerc
from layerc.codegen import TARGETS, Program, build
from layerc.ir import TargetError
from layerc.layers import Dense, Input
from layerc.passes import PlanMemory


def test_an_unknown_target_names_the_known_ones():
    graph = PlanMemory().run(layerc.Sequential([Input((2,)), Dense(1)]).to_graph()).graph
    with pytest.raises(TargetError, match=r"unknown target 'tpu'; known: cpu, cuda"):
        build(graph, "tpu")


def test_the_cpu_program_follows_the_protocol_the_runtime_relies_on():
    compiled = layerc.compile(layerc.Sequential([Input((2,)), Dense(1)]))
    program = compiled.program
    assert isinstance(program, Program) and program.target == "cpu"
    assert program.run([np.ones((3, 2), np.float32)], 3)[0].shape == (3, 1)


def test_the_cli_offers_the_registered_targets():
    run = subprocess.run([sys.executable, "-m", "layerc", "compile", "--help"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "{" + ",".join(TARGETS) + "}" in run.stdout
