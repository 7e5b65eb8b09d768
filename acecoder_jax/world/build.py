"""`build_world(seed)`: every problem of every family, split into train, fresh and held-out.

- train: what `acecoder train-sft` trains the policy on (its SFT rows and the tokenizer come from it);
- fresh: problems the SFT policy never saw, as AceCode-87K's questions are new to the model the paper trains:
  the data stages' seeds (samples, pairs, the reward model, the hard subset) and RL's prompts;
- held-out: evaluation only (SFT and RL pass@1, best-of-N).
"""

from __future__ import annotations

import dataclasses
import random

from acecoder_jax.world.catalog import FAMILIES
from acecoder_jax.world.family import Family
from acecoder_jax.world.problem import Problem, make_problem
from acecoder_jax.world.split import split_indices

HELDOUT_FRACTION = 0.15
FRESH_FRACTION = 0.2


@dataclasses.dataclass(frozen=True)
class World:
    """The generated problems of one seed."""

    seed: int
    train: list[Problem]
    fresh: list[Problem]
    heldout: list[Problem]


def build_world(
    seed: int = 0,
    heldout_fraction: float = HELDOUT_FRACTION,
    families: tuple[Family, ...] = FAMILIES,
    fresh_fraction: float = FRESH_FRACTION,
) -> World:
    """Generate the world for `seed` (deterministic: the same seed gives the same problems and split)."""
    splits: dict[str, list[Problem]] = {"train": [], "fresh": [], "heldout": []}
    for family in families:
        combos = family.combos()
        split_rng = random.Random(f"acecoder-world-split|{seed}|{family.name}")
        fresh_rng = random.Random(f"acecoder-world-fresh|{seed}|{family.name}")
        indices = split_indices(
            combos, heldout_fraction, split_rng, fresh_fraction=fresh_fraction, fresh_rng=fresh_rng
        )
        for name, chosen in zip(splits, indices):
            splits[name] += [make_problem(family, combos[i], i, seed) for i in chosen]
    return World(seed=seed, **splits)
