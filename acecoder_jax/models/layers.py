# ruff: noqa: F722  (jaxtyping shape strings such as "B T D" are not forward references)
"""Decoder building blocks: RMSNorm, token embedding, RoPE, grouped-query attention, SwiGLU MLP.

Einsum letters name axes: B batch, T query length, S key length, D model width, N query heads, K KV heads,
G query heads per KV head, H head dim, F MLP width, V vocab. Every parameter carries `logical_axes` metadata
(see acecoder_jax.sharding.LOGICAL_RULES); norms, softmax, RoPE angles and logits stay in float32.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jaxtyping import Array, Bool, Float, Int

from acecoder_jax.models import cpu_backward
from acecoder_jax.models.config import ModelConfig
from acecoder_jax.sharding import constrain

INIT_STD = 0.02  # transformers' initializer_range for Qwen2 / Llama


def param(
    rngs: nnx.Rngs | None, shape: tuple[int, ...], axes: tuple[str | None, ...], cfg: ModelConfig, init: str
):
    """An nnx.Param of `shape` in cfg.param_dtype with logical axis names; init is normal|zeros|ones."""
    dtype = cfg.weight_dtype
    if init == "normal":
        value = INIT_STD * jax.random.normal(rngs.params(), shape, jnp.float32)
    elif init == "zeros":
        value = jnp.zeros(shape, jnp.float32)
    elif init == "ones":
        value = jnp.ones(shape, jnp.float32)
    else:
        raise ValueError(f"unknown init {init!r}")
    return nnx.Param(value.astype(dtype), logical_axes=axes)


class RMSNorm(nnx.Module):
    """x / rms(x) * scale, computed in float32 and cast back to the compute dtype."""

    def __init__(self, dim: int, cfg: ModelConfig, *, rngs: nnx.Rngs | None = None):
        self.scale = param(rngs, (dim,), ("norm",), cfg, "ones")
        self.eps = cfg.rms_norm_eps
        self.out_dtype = cfg.compute_dtype

    def __call__(self, x: Float[Array, "... D"]) -> Float[Array, "... D"]:
        x32 = x.astype(jnp.float32)
        var = jnp.mean(jnp.square(x32), axis=-1, keepdims=True)
        y = x32 * jax.lax.rsqrt(var + self.eps)
        return (y * self.scale[...].astype(jnp.float32)).astype(self.out_dtype)


class Embed(nnx.Module):
    """Token embedding table [V, D]; also the output projection when embeddings are tied."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.embedding = param(rngs, (cfg.vocab_size, cfg.hidden_size), ("vocab", "embed"), cfg, "normal")
        self.dtype = cfg.compute_dtype

    def __call__(self, ids: Int[Array, "B T"]) -> Float[Array, "B T D"]:
        return jnp.take(self.embedding[...], ids, axis=0).astype(self.dtype)

    def attend(self, x: Float[Array, "B T D"]) -> Float[Array, "B T V"]:
        """Logits against the embedding table (tied lm_head), accumulated in float32."""
        table = self.embedding[...].astype(self.dtype)
        return jnp.einsum("BTD,VD->BTV", x, table, preferred_element_type=jnp.float32)


# ---------------------------------------------------------------------------------------------- RoPE
def rope_inv_freq(cfg: ModelConfig) -> np.ndarray:
    """Inverse frequencies [H/2] in float32, with Llama 3 scaling when configured (as transformers does)."""
    h = cfg.head_dim
    exponent = np.arange(0, h, 2, dtype=np.int64).astype(np.float32) / np.float32(h)
    inv_freq = (1.0 / (np.float32(cfg.rope_theta) ** exponent)).astype(np.float32)
    scaling = cfg.rope_scaling
    if scaling and scaling.get("rope_type", scaling.get("type")) == "llama3":
        factor = float(scaling["factor"])
        low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
        old_len = float(scaling["original_max_position_embeddings"])
        low_wavelen, high_wavelen = old_len / low, old_len / high
        wavelen = 2 * math.pi / inv_freq
        scaled = np.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        inv_freq = np.where(medium, smoothed, scaled).astype(np.float32)
    return inv_freq


def apply_rope(x: Float[Array, "B T N H"], positions: Int[Array, "B T"], inv_freq: np.ndarray) -> Array:
    """Rotate-half RoPE (the transformers convention); angles and rotation in float32."""
    angles = positions.astype(jnp.float32)[..., None] * jnp.asarray(inv_freq)[None, None, :]  # B T H/2
    angles = jnp.concatenate([angles, angles], axis=-1)[:, :, None, :]  # B T 1 H
    cos, sin = jnp.cos(angles), jnp.sin(angles)
    x32 = x.astype(jnp.float32)
    half = x.shape[-1] // 2
    rotated = jnp.concatenate([-x32[..., half:], x32[..., :half]], axis=-1)
    return (x32 * cos + rotated * sin).astype(x.dtype)


# ---------------------------------------------------------------------------------------------- attention
class Attention(nnx.Module):
    """Grouped-query self-attention with optional q/k/v bias (Qwen2) and a fixed-size KV cache."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        d, n, k, h = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.q_proj = Proj(cfg, (d, n, h), ("embed", "heads", "head_dim"), bias=cfg.attention_bias, rngs=rngs)
        self.k_proj = Proj(
            cfg, (d, k, h), ("embed", "kv_heads", "head_dim"), bias=cfg.attention_bias, rngs=rngs
        )
        self.v_proj = Proj(
            cfg, (d, k, h), ("embed", "kv_heads", "head_dim"), bias=cfg.attention_bias, rngs=rngs
        )
        # Llama 3's attention_bias covers o_proj too; Qwen2 never has an o_proj bias.
        o_bias = cfg.attention_bias and cfg.architecture == "llama"
        self.o_proj = Proj(cfg, (n, h, d), ("heads", "head_dim", "embed"), bias=o_bias, rngs=rngs)
        self.num_kv_heads = k
        self.groups = n // k
        self.scale = 1.0 / math.sqrt(h)
        self.cfg = cfg
        self.dtype = cfg.compute_dtype

    def __call__(
        self,
        x: Float[Array, "B T D"],
        positions: Int[Array, "B T"],
        key_mask: Bool[Array, "B S"],
        past: tuple[Array, Array] | None = None,
        cache_index: Int[Array, ""] | None = None,
    ) -> tuple[Float[Array, "B T D"], tuple[Array, Array]]:
        """Attention output and this chunk's (keys, values) [B, T, K, H] (for the caller's KV cache).

        With `past` (this layer's cached keys/values [B, S, K, H]), the chunk is placed at slots
        [cache_index, cache_index + T); queries attend over the S slots allowed by `key_mask` and causality.
        """
        b, t, _ = x.shape
        q = self.q_proj(x, "BTD,DNH->BTNH")
        k = self.k_proj(x, "BTD,DKH->BTKH")
        v = self.v_proj(x, "BTD,DKH->BTKH")
        inv_freq = rope_inv_freq(self.cfg)
        q = constrain(apply_rope(q, positions, inv_freq), ("act_batch", "act_len", "act_heads", None))
        k = constrain(apply_rope(k, positions, inv_freq), ("act_batch", "act_len", "act_kv_heads", None))
        v = constrain(v, ("act_batch", "act_len", "act_kv_heads", None))

        if past is None:
            keys, values = k, v
            q_slots = jnp.arange(t)
        else:
            past_k, past_v = past
            keys = jax.lax.dynamic_update_slice(past_k, k.astype(past_k.dtype), (0, cache_index, 0, 0))
            values = jax.lax.dynamic_update_slice(past_v, v.astype(past_v.dtype), (0, cache_index, 0, 0))
            q_slots = cache_index + jnp.arange(t)
        s = keys.shape[1]
        allowed = key_mask[:, None, :] & (jnp.arange(s)[None, None, :] <= q_slots[None, :, None])  # B T S

        qg = q.reshape(b, t, self.num_kv_heads, self.groups, q.shape[-1])
        # Decoding never takes gradients: only the cache-free (training) call takes the hand-written backward.
        hand_written = past is None and cpu_backward.hand_written_backward()
        attend = cpu_backward.attention if hand_written else cpu_backward.attention_forward
        out = attend(qg, keys.astype(self.dtype), values.astype(self.dtype), allowed, self.scale)
        out = constrain(out.reshape(b, t, -1, q.shape[-1]), ("act_batch", "act_len", "act_heads", None))
        return self.o_proj(out, "BTNH,NHD->BTD"), (k, v)


class Proj(nnx.Module):
    """A multi-axis linear map `kernel` (+ optional `bias` over the output axes) applied by an einsum."""

    def __init__(
        self,
        cfg: ModelConfig,
        shape: tuple[int, ...],
        axes: tuple[str | None, ...],
        *,
        bias: bool,
        rngs: nnx.Rngs,
        n_in: int = 1,
    ):
        self.kernel = param(rngs, shape, axes, cfg, "normal")
        # The output axes are the kernel's trailing axes except for o_proj-style [N, H, D] kernels (n_in=2).
        n_in = 2 if axes[:2] == ("heads", "head_dim") else n_in
        self.bias = param(rngs, shape[n_in:], axes[n_in:], cfg, "zeros") if bias else None
        self.dtype = cfg.compute_dtype

    def __call__(self, x: Array, equation: str) -> Array:
        y = jnp.einsum(equation, x, self.kernel[...].astype(self.dtype))
        if self.bias is not None:
            y = y + self.bias[...].astype(self.dtype)
        return y


class MLP(nnx.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        d, f = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = Proj(cfg, (d, f), ("embed", "mlp"), bias=False, rngs=rngs)
        self.up_proj = Proj(cfg, (d, f), ("embed", "mlp"), bias=False, rngs=rngs)
        self.down_proj = Proj(cfg, (f, d), ("mlp", "embed"), bias=False, rngs=rngs)

    def __call__(self, x: Float[Array, "B T D"]) -> Float[Array, "B T D"]:
        mlp = cpu_backward.swiglu if cpu_backward.hand_written_backward() else cpu_backward.swiglu_forward
        kernels = (p.kernel[...].astype(p.dtype) for p in (self.gate_proj, self.up_proj, self.down_proj))
        return mlp(x, *kernels)
