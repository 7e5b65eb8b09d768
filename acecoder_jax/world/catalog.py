"""Every family of the policy world, in a fixed order (the order problems are generated in)."""

from __future__ import annotations

from acecoder_jax.world.families_lists import LIST_FAMILIES
from acecoder_jax.world.families_numbers import NUMBER_FAMILIES
from acecoder_jax.world.families_strings import STRING_FAMILIES
from acecoder_jax.world.family import Family

FAMILIES: tuple[Family, ...] = (*NUMBER_FAMILIES, *LIST_FAMILIES, *STRING_FAMILIES)


def family(name: str) -> Family:
    """The family called `name`."""
    for candidate in FAMILIES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown world family {name!r}; known: {[f.name for f in FAMILIES]}")
