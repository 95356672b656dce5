"""Utilities with Keras's names: the global random seed."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seeds every initializer created without a seed of its own, as
    `keras.utils.set_random_seed` does: the same seed, the same weights."""
    global _generator
    _generator = np.random.default_rng(seed)


def global_generator() -> np.random.Generator:
    return _generator
