"""`build_world(seed)`: every problem of every family, split into train and held-out."""

from __future__ import annotations

import dataclasses
import random

from acecoder_jax.world.catalog import FAMILIES
from acecoder_jax.world.family import Family
from acecoder_jax.world.problem import Problem, make_problem
from acecoder_jax.world.split import split_indices

HELDOUT_FRACTION = 0.15


@dataclasses.dataclass(frozen=True)
class World:
    """The generated problems of one seed."""

    seed: int
    train: list[Problem]
    heldout: list[Problem]


def build_world(
    seed: int = 0, heldout_fraction: float = HELDOUT_FRACTION, families: tuple[Family, ...] = FAMILIES
) -> World:
    """Generate the world for `seed` (deterministic: the same seed gives the same problems and split)."""
    train: list[Problem] = []
    heldout: list[Problem] = []
    for family in families:
        combos = family.combos()
        split_rng = random.Random(f"acecoder-world-split|{seed}|{family.name}")
        train_idx, heldout_idx = split_indices(combos, heldout_fraction, split_rng)
        train += [make_problem(family, combos[i], i, seed) for i in train_idx]
        heldout += [make_problem(family, combos[i], i, seed) for i in heldout_idx]
    return World(seed=seed, train=train, heldout=heldout)
