"""Batches on the mesh: the data-parallel size, the batch sharding, and putting host rows onto devices.

Every batch field has a leading batch dimension split over the data-parallel mesh axes (`act_batch` in the
sharding rules, i.e. `data` x `fsdp`); other dimensions are replicated. Each process passes only its own rows
(`jax.make_array_from_process_local_data`); the global batch is their concatenation in process order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from acecoder_jax.sharding import ShardingError, logical_to_spec

BatchShardings = NamedSharding | Mapping[str, NamedSharding]


def batch_axis_size(mesh: Mesh) -> int:
    """How many ways the batch dimension is split: the product of the mesh axes `act_batch` maps to."""
    spec = logical_to_spec(("act_batch",))[0]
    axes = () if spec is None else (spec,) if isinstance(spec, str) else tuple(spec)
    return math.prod(mesh.shape[a] for a in axes)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) dim split over the data-parallel axes, the rest replicated."""
    return NamedSharding(mesh, PartitionSpec(*logical_to_spec(("act_batch",))))


def put_batch(
    mesh: Mesh, host_rows: Mapping[str, np.ndarray], sharding: BatchShardings | None = None
) -> dict[str, jax.Array]:
    """This process's rows of every field -> global arrays on the mesh (single- and multi-host alike).

    `sharding` is one NamedSharding for every field or one per field; default `batch_sharding(mesh)`.
    """
    sharding = batch_sharding(mesh) if sharding is None else sharding
    out = {}
    for key, rows in host_rows.items():
        field_sharding = sharding if isinstance(sharding, NamedSharding) else sharding[key]
        rows = np.asarray(rows)
        try:
            out[key] = jax.make_array_from_process_local_data(field_sharding, rows)
        except ValueError as error:  # e.g. rows that the batch axes do not divide
            raise ShardingError(
                f"batch field {key!r} of shape {rows.shape} (this process's rows) does not fit "
                f"{field_sharding.spec} on mesh {dict(mesh.shape)}: {error}"
            ) from error
    return out


def local_rows(x: jax.Array) -> np.ndarray:
    """This process's rows of a global array with a leading batch dimension: the inverse of `put_batch`
    (the whole array in a single process)."""
    if x.is_fully_addressable:
        return np.asarray(jax.device_get(x))
    blocks: dict[int, jax.Array] = {}
    for shard in x.addressable_shards:
        start = shard.index[0].start if shard.index else None
        blocks.setdefault(start or 0, shard.data)
    return np.concatenate([np.asarray(blocks[start]) for start in sorted(blocks)])


def local_batch_multiple(mesh: Mesh) -> int:
    """How many row blocks of the batch sharding this process's devices hold: a process's rows must be a
    multiple of it (`batch_axis_size(mesh)` in a single process)."""
    total = batch_axis_size(mesh)
    sharding = batch_sharding(mesh)
    starts = {index[0].start for index in sharding.addressable_devices_indices_map((total,)).values()}
    return len(starts)
