"""Checks of attrs that several op rules share: the values a Keras layer can
have. A rule calls them from its `infer`, so that a node whose attrs no layer
could have (a zero stride, a negative size, an unknown padding or activation)
cannot be built, whether it comes from a model or from an artifact someone
edited; `Node.make` names the node in the ConfigError. The kernels rely on
it: they index with these values unchecked."""

from __future__ import annotations

from collections.abc import Iterable

from layerc.ir.activations import ACTIVATIONS
from layerc.ir.errors import ConfigError


def positive(name: str, *values: int) -> None:
    """Sizes, counts, strides: each at least 1."""
    for v in values:
        if v < 1:
            raise ConfigError(f"{name} must be >= 1, got {v}")


def non_negative(name: str, *values: int | float) -> None:
    for v in values:
        if not v >= 0:  # NaN fails too
            raise ConfigError(f"{name} must be >= 0, got {v}")


def one_of(name: str, value: object, choices: Iterable[object]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; "
                          f"got {value!r}")


def activation(name: str, value: str) -> None:
    """An activation of the IR's table (its canonical names)."""
    if value not in ACTIVATIONS:
        raise ConfigError(f"{name} {value!r} is not an activation layerc knows")


def per_axis(name: str, values: tuple, axes: int) -> None:
    if len(values) != axes:
        raise ConfigError(f"{name} {values} must give one value for each of the {axes} "
                          f"spatial axes")


def pairs(name: str, values: tuple) -> None:
    """(before, after) amounts, each >= 0."""
    for pair in values:
        if len(pair) != 2 or min(pair) < 0:
            raise ConfigError(f"{name} {values} must be (before, after) pairs of ints >= 0")
