"""A fixed-size KV cache for sampling: one jitted prefill, then 1-token decode steps inside `lax.while_loop`.

Layout: K/V stacked over layers [L, B, S, K, H] (the decoder scans over layers and updates its layer's
slice in place); slots [0, max_len) are shared by the whole batch. Prompts are left-padded to one length T,
prefill writes slots [0, T) (pads are written but masked out through `mask`), and every decode step writes
slot `index` for all rows. `pos[b]` is the next RoPE position of row b (its number of real tokens so far), so
left padding never shifts positions. All shapes are static, so the cache can be donated and updated in place.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from jax.sharding import Mesh, NamedSharding

from acecoder_jax.models.config import ModelConfig
from acecoder_jax.sharding import fit_spec

KV_AXES = ("layers", "act_batch", "act_kv_len", "act_kv_heads", "act_head_dim")


@struct.dataclass
class Cache:
    """Stacked K/V [L, B, S, K, H], the slot mask, the next write slot and each row's next position."""

    k: jax.Array
    v: jax.Array
    mask: jax.Array  # [B, S] bool: slot holds a real (non-pad) token
    index: jax.Array  # [] int32: next slot to write
    pos: jax.Array  # [B] int32: next RoPE position per row

    @property
    def max_len(self) -> int:
        """Number of slots."""
        return self.mask.shape[1]

    @property
    def lengths(self) -> jax.Array:
        """Real tokens held per row, [B]."""
        return self.mask.sum(axis=-1).astype(jnp.int32)


def init_cache(
    config: ModelConfig,
    batch: int,
    max_len: int,
    dtype: jnp.dtype | str | None = None,
    *,
    mesh: Mesh | None = None,
) -> Cache:
    """An empty cache for `batch` rows and `max_len` slots (K/V in `dtype`, default the compute dtype)."""
    dtype = jnp.dtype(dtype or config.compute_dtype)
    shape = (config.num_layers, batch, max_len, config.num_kv_heads, config.head_dim)

    def zeros(shape, dtype, names):
        if mesh is None:
            return jnp.zeros(shape, dtype)
        spec = fit_spec(names, shape, dict(mesh.shape), what="kv cache", strict=False)
        return jax.jit(lambda: jnp.zeros(shape, dtype), out_shardings=NamedSharding(mesh, spec))()

    return Cache(
        k=zeros(shape, dtype, KV_AXES),
        v=zeros(shape, dtype, KV_AXES),
        mask=zeros((batch, max_len), jnp.bool_, ("act_batch", "act_kv_len")),
        index=jnp.zeros((), jnp.int32),
        pos=zeros((batch,), jnp.int32, ("act_batch",)),
    )


def advance(cache: Cache, attention_mask: jax.Array) -> tuple[Cache, jax.Array]:
    """Mark the new chunk's slots and return (cache with mask/index/pos moved on, the chunk's positions)."""
    attention_mask = attention_mask.astype(jnp.int32)
    positions = cache.pos[:, None] + jnp.cumsum(attention_mask, axis=-1) - 1
    positions = jnp.maximum(positions, 0)
    mask = jax.lax.dynamic_update_slice(cache.mask, attention_mask.astype(jnp.bool_), (0, cache.index))
    new = cache.replace(
        mask=mask,
        index=cache.index + attention_mask.shape[1],
        pos=cache.pos + attention_mask.sum(axis=-1),
    )
    return new, positions
