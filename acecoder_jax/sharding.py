"""The device mesh `(data, fsdp, tensor)` and the ONE table mapping logical axis names onto it.

Parameters carry logical names (`embed`, `mlp`, `heads`, `kv_heads`, `vocab`, ...) and activations are
constrained with `constrain(x, ("act_batch", "act_len", "act_embed"))`; only the rules table knows which
mesh axes those names use. `LOGICAL_RULES` is the default table (the training layout); `with rules(...)`
uses another inside a block (e.g. a rollout copy of the weights, or a frozen reference, in its own layout):

    with sharding.rules(embed=None, act_batch=("data", "fsdp", "tensor")):  # overrides on the current table
        ...
    with sharding.rules(ROLLOUT_TABLE):  # a whole table
        ...

The table is read when shardings are computed, i.e. when arrays are placed and when a function is TRACED:
a jitted function keeps the layout it was traced under, so give each layout its own jitted function.

Divisibility policy:
- a parameter dimension the mesh does not divide is an error naming the tensor, its shape and the mesh axis,
  EXCEPT `kv_heads`: with tensor parallelism larger than the number of KV heads (e.g. tp=8 on a model with 4
  KV heads) the K/V projections fall back to being replicated over `tensor` (they are small under GQA);
- an activation dimension the mesh does not divide is left unsharded (a batch of 1 while decoding is normal).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MESH_AXES: tuple[str, str, str] = ("data", "fsdp", "tensor")

Rule = str | tuple[str, ...] | None  # a mesh axis, several mesh axes, or None (replicated)

# The default table: logical name -> Rule.
LOGICAL_RULES: dict[str, Rule] = {
    # parameters
    "vocab": "tensor",
    "embed": "fsdp",
    "mlp": "tensor",
    "heads": "tensor",
    "kv_heads": "tensor",
    "head_dim": None,
    "layers": None,  # the stacked-layer axis that the decoder scans over
    "norm": None,
    "score": None,  # the reward head's single output unit
    # activations
    "act_batch": ("data", "fsdp"),
    "act_len": None,
    "act_kv_len": None,
    "act_embed": None,
    "act_heads": "tensor",
    "act_kv_heads": "tensor",
    "act_head_dim": None,
    "act_mlp": "tensor",
    "act_vocab": "tensor",
}

# Logical names whose dimension falls back to replication when the mesh does not divide it.
REPLICATE_IF_INDIVISIBLE: frozenset[str] = frozenset({"kv_heads", "act_kv_heads"})


_ACTIVE_RULES: contextvars.ContextVar[Mapping[str, Rule]] = contextvars.ContextVar(
    "logical_rules", default=LOGICAL_RULES
)


def current_rules() -> Mapping[str, Rule]:
    """The logical-axis rules table in effect (LOGICAL_RULES unless inside `rules(...)`)."""
    return _ACTIVE_RULES.get()


@contextlib.contextmanager
def rules(table: Mapping[str, Rule] | None = None, **overrides: Rule) -> Iterator[Mapping[str, Rule]]:
    """Inside the block, map logical names by `table` (default: the current one) updated with `overrides`."""
    merged = dict(current_rules() if table is None else table)
    for name, rule in overrides.items():
        if name not in merged:
            raise KeyError(f"rules override {name!r}: not a logical axis name; known: {sorted(merged)}")
        merged[name] = rule
    token = _ACTIVE_RULES.set(merged)
    try:
        yield merged
    finally:
        _ACTIVE_RULES.reset(token)


class ShardingError(ValueError):
    """A tensor dimension that the mesh cannot split, or a mesh that does not fit the devices."""


@dataclass
class MeshConfig:
    """Mesh shape; -1 means "all devices not used by the other axes" (at most one axis may be -1)."""

    data: int = 1
    fsdp: int = -1
    tensor: int = 1


def resolve_mesh_shape(cfg: MeshConfig, num_devices: int) -> tuple[int, int, int]:
    """The concrete (data, fsdp, tensor) sizes for `num_devices`, with -1 filled in."""
    sizes = [cfg.data, cfg.fsdp, cfg.tensor]
    free = [i for i, s in enumerate(sizes) if s == -1]
    if len(free) > 1:
        raise ShardingError(f"mesh {cfg}: at most one axis may be -1")
    for name, s in zip(MESH_AXES, sizes):
        if s != -1 and s < 1:
            raise ShardingError(f"mesh {cfg}: axis {name}={s} must be >= 1 or -1")
    fixed = math.prod(s for s in sizes if s != -1)
    if free:
        if num_devices % fixed:
            raise ShardingError(
                f"mesh {cfg}: {num_devices} devices are not divisible by the fixed axes' product {fixed}"
            )
        sizes[free[0]] = num_devices // fixed
    if math.prod(sizes) != num_devices:
        raise ShardingError(
            f"mesh {cfg}: data*fsdp*tensor = {'*'.join(map(str, sizes))} = {math.prod(sizes)} "
            f"but there are {num_devices} devices"
        )
    return sizes[0], sizes[1], sizes[2]


def make_mesh(cfg: MeshConfig, devices: Sequence[Any] | None = None) -> Mesh:
    """A `(data, fsdp, tensor)` mesh with Auto axis types over `devices` (default: all devices)."""
    devices = list(jax.devices() if devices is None else devices)
    shape = resolve_mesh_shape(cfg, len(devices))
    auto = (jax.sharding.AxisType.Auto,) * len(MESH_AXES)
    return jax.make_mesh(shape, MESH_AXES, axis_types=auto, devices=devices)


def _mesh_axes_for(name: str | None) -> tuple[str, ...]:
    if name is None:
        return ()
    table = current_rules()
    if name not in table:
        raise KeyError(f"logical axis {name!r} has no rule; known: {sorted(table)}")
    rule = table[name]
    if rule is None:
        return ()
    return (rule,) if isinstance(rule, str) else tuple(rule)


def logical_to_spec(names: Sequence[str | None]) -> PartitionSpec:
    """PartitionSpec for logical axis names (a mesh axis already used by an earlier dim is not reused)."""
    used: set[str] = set()
    out: list[Any] = []
    for name in names:
        axes = tuple(a for a in _mesh_axes_for(name) if a not in used)
        used.update(axes)
        out.append(None if not axes else axes[0] if len(axes) == 1 else axes)
    return PartitionSpec(*out)


def _axis_size(mesh_shape: dict[str, int], entry: Any) -> int:
    if entry is None:
        return 1
    entries = (entry,) if isinstance(entry, str) else entry
    return math.prod(mesh_shape[a] for a in entries)


def fit_spec(
    names: Sequence[str | None],
    shape: Sequence[int],
    mesh_shape: dict[str, int],
    *,
    what: str = "tensor",
    strict: bool = True,
) -> PartitionSpec:
    """`logical_to_spec(names)` checked against `shape`: indivisible dims raise (strict) or are replicated."""
    if len(names) != len(shape):
        raise ShardingError(f"{what}: {len(names)} logical names {tuple(names)} for shape {tuple(shape)}")
    spec = list(logical_to_spec(names))
    for i, (name, dim, entry) in enumerate(zip(names, shape, spec)):
        size = _axis_size(mesh_shape, entry)
        if dim % size == 0:
            continue
        if not strict or name in REPLICATE_IF_INDIVISIBLE:
            spec[i] = None
            continue
        raise ShardingError(
            f"{what}: shape {tuple(shape)} dim {i} ({name}={dim}) is not divisible by mesh axis "
            f"{entry!r} of size {size} (mesh {mesh_shape})"
        )
    return PartitionSpec(*spec)


def named_sharding(
    mesh: Mesh, names: Sequence[str | None], shape: Sequence[int] | None = None, *, what: str = "tensor"
) -> NamedSharding:
    """NamedSharding for logical names; with `shape`, checked for divisibility (see module docstring)."""
    if shape is None:
        return NamedSharding(mesh, logical_to_spec(names))
    return NamedSharding(mesh, fit_spec(names, shape, dict(mesh.shape), what=what))


def _current_mesh() -> Any | None:
    mesh = jax.sharding.get_abstract_mesh()
    if mesh is None or mesh.empty:
        return None
    return mesh


def constrain(x: jax.Array, names: Sequence[str | None]) -> jax.Array:
    """with_sharding_constraint by logical names under the current mesh (`jax.set_mesh`); else a no-op."""
    mesh = _current_mesh()
    if mesh is None:
        return x
    spec = fit_spec(names, x.shape, dict(mesh.shape), what="activation", strict=False)
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))
