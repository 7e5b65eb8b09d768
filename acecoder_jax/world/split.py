"""Train / held-out split of a family's grid: no (family, params) combination is in both.

Held-out combinations are recombinations: every single parameter value of a held-out problem (an operator, a
constant) also occurs in at least `min_train_uses` train problems of the same family, so a model can compose
it from what it saw.
"""

from __future__ import annotations

import collections
import random

from acecoder_jax.world.family import Params


def split_indices(
    combos: list[Params], heldout_fraction: float, rng: random.Random, min_train_uses: int = 2
) -> tuple[list[int], list[int]]:
    """(train indices, held-out indices) into `combos`, each sorted."""
    uses = collections.Counter((key, value) for combo in combos for key, value in combo.items())
    target = max(1, round(heldout_fraction * len(combos)))
    order = list(range(len(combos)))
    rng.shuffle(order)
    heldout: list[int] = []
    for index in order:
        if len(heldout) == target:
            break
        items = list(combos[index].items())
        if all(uses[item] - 1 >= min_train_uses for item in items):
            heldout.append(index)
            uses.subtract(items)
    held = set(heldout)
    return [i for i in range(len(combos)) if i not in held], sorted(heldout)
