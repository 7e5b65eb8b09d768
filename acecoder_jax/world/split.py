"""Train / fresh / held-out split of a family's grid: no (family, params) combination is in two splits.

Held-out and fresh combinations are recombinations: every single parameter value of such a problem (an
operator, a constant) also occurs in at least `min_train_uses` train problems of the same family, so a model
can compose it from what it saw. Held-out problems are drawn first, so adding the fresh split left the
held-out problems of world version 2 as they were.
"""

from __future__ import annotations

import collections
import random

from acecoder_jax.world.family import Params


def split_indices(
    combos: list[Params],
    heldout_fraction: float,
    rng: random.Random,
    *,
    fresh_fraction: float = 0.0,
    fresh_rng: random.Random | None = None,
    min_train_uses: int = 2,
) -> tuple[list[int], list[int], list[int]]:
    """(train, fresh, held-out) indices into `combos`, each sorted."""
    uses = collections.Counter((key, value) for combo in combos for key, value in combo.items())
    heldout = _draw(combos, heldout_fraction, rng, uses, min_train_uses, taken=set())
    fresh: list[int] = []
    if fresh_fraction > 0:
        fresh = _draw(combos, fresh_fraction, fresh_rng or rng, uses, min_train_uses, taken=set(heldout))
    taken = set(heldout) | set(fresh)
    return [i for i in range(len(combos)) if i not in taken], sorted(fresh), sorted(heldout)


def _draw(
    combos: list[Params],
    fraction: float,
    rng: random.Random,
    uses: collections.Counter,
    min_train_uses: int,
    taken: set[int],
) -> list[int]:
    """Up to `fraction` of the combos, in `rng`'s order, each leaving every value >= min_train_uses uses."""
    target = max(1, round(fraction * len(combos)))
    order = list(range(len(combos)))
    rng.shuffle(order)
    drawn: list[int] = []
    for index in order:
        if len(drawn) == target:
            break
        if index in taken:
            continue
        items = list(combos[index].items())
        if all(uses[item] - 1 >= min_train_uses for item in items):
            drawn.append(index)
            uses.subtract(items)
    return drawn
