"""layerc.ir: tensor types, frozen nodes, the graph, op rules, verifier, printer, JSON."""

from layerc.ir import ops  # noqa: F401  (registers every op kind)
from layerc.ir.dot import to_dot
from layerc.ir.errors import (ArtifactError, ConfigError, InputError, IRError, LayercError,
                              PassError, ShapeError, TargetError)
from layerc.ir.graph import Graph
from layerc.ir.interpret import interpret
from layerc.ir.memory import MemoryPlan, check_plan
from layerc.ir.node import Node, Port
from layerc.ir.opkind import OpKind
from layerc.ir.printer import to_text
from layerc.ir.registry import RULES, OpRule, Window, rule_for
from layerc.ir.serialize import from_json, to_json
from layerc.ir.types import TensorType
from layerc.ir.verify import verify

__all__ = [
    "ArtifactError", "ConfigError", "Graph", "IRError", "InputError", "LayercError",
    "MemoryPlan", "Node", "OpKind", "OpRule", "PassError", "Port", "RULES", "ShapeError",
    "check_plan",
    "TargetError", "TensorType", "Window", "from_json", "interpret", "rule_for", "to_dot",
    "to_json", "to_text", "verify",
]
