"""What the processes of a multi-host job agree on around a collective: equal shapes from unequal host data,
this process's share of a list, and host values gathered from every process in process order.

In a single process every function here is the identity (no communication), so callers use them
unconditionally.
"""

from __future__ import annotations

import json
from typing import Any

import jax
import numpy as np


def multi_process() -> bool:
    """Whether this is one process of several (`jax.distributed` joined)."""
    return jax.process_count() > 1


def _allgather(values: np.ndarray) -> np.ndarray:
    """[P, *values.shape]: every process's `values` (same shape and dtype everywhere), in process order."""
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(values, tiled=False))


def agreed_max(*values: int) -> tuple[int, ...]:
    """The elementwise maximum of `values` over every process (a shape every process can use)."""
    if not multi_process():
        return tuple(int(v) for v in values)
    gathered = _allgather(np.asarray(values, np.int64))
    return tuple(int(v) for v in gathered.max(axis=0))


def gathered_counts(count: int) -> list[int]:
    """`count` of every process, in process order."""
    if not multi_process():
        return [int(count)]
    return [int(v) for v in _allgather(np.asarray([count], np.int64))[:, 0]]


def process_share(total: int) -> slice:
    """This process's contiguous share of `total` items, split evenly over the processes (process order)."""
    count, index = jax.process_count(), jax.process_index()
    if total % count:
        raise ValueError(f"{total} items do not split evenly over {count} processes")
    share = total // count
    return slice(index * share, (index + 1) * share)


def gather_rows(rows: np.ndarray) -> np.ndarray:
    """Every process's `rows` (any row count, the same trailing shape and dtype) concatenated in process
    order."""
    if not multi_process():
        return rows
    counts = gathered_counts(rows.shape[0])
    padded = np.zeros((max(counts), *rows.shape[1:]), rows.dtype)
    padded[: rows.shape[0]] = rows
    everyone = _allgather(padded)
    return np.concatenate([part[:count] for part, count in zip(everyone, counts)])


def gather_objects(value: Any) -> list[Any]:
    """Every process's JSON-serialisable `value`, in process order."""
    if not multi_process():
        return [value]
    data = np.frombuffer(json.dumps(value).encode(), np.uint8)
    counts = gathered_counts(data.shape[0])
    padded = np.zeros(max(counts), np.uint8)
    padded[: data.shape[0]] = data
    everyone = _allgather(padded)
    return [json.loads(part[:count].tobytes()) for part, count in zip(everyone, counts)]
