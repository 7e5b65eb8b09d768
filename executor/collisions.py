"""Guard against hash-flooding on the trusted side: a set or dict of values with equal hashes costs O(n^2).

A program chooses the values it returns (e.g. ints k * (2**61 - 1), which all hash to 0; red-team #4, #5);
building a set or dict of 30,000 of them stalls the trusted worker or pool for seconds with the GIL held.
Before building one, the trusted side checks the hashes in linear time and refuses a flood.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_COLLISIONS = 256  # distinct values sharing a hash with an earlier one; honest data has ~none
_MISSING = object()


class HashFlood(ValueError):
    """Too many distinct values with equal hashes to put in a set or dict safely."""


def check_hashes(items: Iterable[Any]) -> None:
    """Raise HashFlood when more than MAX_COLLISIONS distinct items share hashes (unhashable: TypeError)."""
    seen: dict[int, Any] = {}
    collisions = 0
    for item in items:
        key = hash(item)
        first = seen.get(key, _MISSING)
        if first is _MISSING:
            seen[key] = item
        elif first != item:  # equal values merge at once; distinct ones with one hash form the chain
            collisions += 1
            if collisions > MAX_COLLISIONS:
                raise HashFlood("value has too many hash collisions (hash flooding)")


def safe_set(items: Iterable[Any] = ()) -> set:
    """set(items) after the flood check."""
    items = list(items)
    check_hashes(items)
    return set(items)


def safe_frozenset(items: Iterable[Any] = ()) -> frozenset:
    """frozenset(items) after the flood check."""
    items = list(items)
    check_hashes(items)
    return frozenset(items)


def safe_dict(*args: Any, **kwargs: Any) -> dict:
    """dict(...) after the flood check on the keys of a pair sequence (dict arguments were checked)."""
    if len(args) == 1 and not isinstance(args[0], dict):
        pairs = list(args[0])
        with_keys = [pair for pair in pairs if isinstance(pair, list | tuple) and len(pair) == 2]
        check_hashes(pair[0] for pair in with_keys)
        return dict(pairs, **kwargs)
    return dict(*args, **kwargs)
