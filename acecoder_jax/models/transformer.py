# ruff: noqa: F722  (jaxtyping shape strings such as "B T D" are not forward references)
"""The decoder shared by Qwen2 and Llama 3 (they differ only in config: biases, RoPE scaling, tying).

Module names mirror transformers' (`model.layers.self_attn.q_proj`, with the layer index as the leading axis
of each stacked parameter) so the HF <-> NNX table in params.py stays a one-to-one list.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float, Int

from acecoder_jax.models.config import ModelConfig
from acecoder_jax.models.kv_cache import Cache, advance
from acecoder_jax.models.layers import MLP, Attention, Embed, Proj, RMSNorm
from acecoder_jax.sharding import constrain

ACT = ("act_batch", "act_len", "act_embed")


def default_positions(attention_mask: Int[Array, "B T"]) -> Int[Array, "B T"]:
    """cumsum(mask) - 1: the first real token is position 0 whatever the left padding."""
    return jnp.maximum(jnp.cumsum(attention_mask.astype(jnp.int32), axis=-1) - 1, 0)


class Block(nnx.Module):
    """Pre-norm decoder layer: x + attn(norm(x)), then + mlp(norm(x))."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg, rngs=rngs)
        self.self_attn = Attention(cfg, rngs=rngs)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg, rngs=rngs)
        self.mlp = MLP(cfg, rngs=rngs)

    def __call__(
        self,
        x: Float[Array, "B T D"],
        positions: Int[Array, "B T"],
        key_mask: Array,
        past: tuple[Array, Array] | None = None,
        cache_index: Array | None = None,
    ) -> tuple[Float[Array, "B T D"], tuple[Array, Array]]:
        with jax.named_scope("attention"):
            h, kv = self.self_attn(self.input_layernorm(x), positions, key_mask, past, cache_index)
        x = constrain(x + h, ACT)
        with jax.named_scope("mlp"):
            x = constrain(x + self.mlp(self.post_attention_layernorm(x)), ACT)
        return x, kv


def stacked_blocks(cfg: ModelConfig, rngs: nnx.Rngs) -> Block:
    """One Block whose parameters carry a leading [num_layers] axis (logical name "layers")."""
    graphdef = nnx.graphdef(nnx.eval_shape(lambda: Block(cfg, rngs=nnx.Rngs(0))))
    keys = jax.random.split(rngs.params(), cfg.num_layers)
    states = jax.vmap(lambda key: nnx.state(Block(cfg, rngs=nnx.Rngs(params=key))))(keys)
    blocks = nnx.merge(graphdef, states)
    for _, var in nnx.to_flat_state(nnx.state(blocks, nnx.Param)):
        var.set_metadata(logical_axes=("layers", *var.get_metadata()["logical_axes"]))
    return blocks


class Decoder(nnx.Module):
    """Embedding, the layer stack and the final norm (transformers' `Qwen2Model` / `LlamaModel`).

    The layers are stored stacked and run with `lax.scan`: one compiled layer body whatever the depth (fast
    compiles for 64-layer models), and each layer's FSDP all-gather / gradient reduce-scatter stays inside
    its own iteration, so per-device memory holds one gathered layer at a time.
    """

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.embed_tokens = Embed(cfg, rngs=rngs)
        self.layers = stacked_blocks(cfg, rngs)
        self.norm = RMSNorm(cfg.hidden_size, cfg, rngs=rngs)
        self.cfg = cfg

    def __call__(
        self,
        input_ids: Int[Array, "B T"],
        attention_mask: Int[Array, "B T"],
        positions: Int[Array, "B T"] | None = None,
        cache: Cache | None = None,
    ) -> tuple[Float[Array, "B T D"], Cache | None]:
        x = constrain(self.embed_tokens(input_ids), ACT)
        graphdef, layer_state = nnx.split(self.layers)
        if cache is None:
            if positions is None:
                positions = default_positions(attention_mask)
            key_mask = attention_mask.astype(jnp.bool_)

            def body(x, state):
                return nnx.merge(graphdef, state)(x, positions, key_mask)[0], None

            if self.cfg.remat:
                policy = getattr(jax.checkpoint_policies, self.cfg.remat_policy)
                body = jax.checkpoint(body, policy=policy, prevent_cse=False)
            with jax.named_scope("layers"):
                x, _ = jax.lax.scan(body, x, layer_state, unroll=self.cfg.scan_unroll)
            return self.norm(x), None

        index = cache.index
        cache, default_pos = advance(cache, attention_mask)
        positions = default_pos if positions is None else positions

        def cached_body(carry, state):
            # The full stacked cache rides in the carry so XLA updates this layer's slots in place.
            x, k_all, v_all, i = carry
            past = (k_all[i], v_all[i])
            x, (k, v) = nnx.merge(graphdef, state)(x, positions, cache.mask, past, index)
            k_all = jax.lax.dynamic_update_slice(k_all, k.astype(k_all.dtype)[None], (i, 0, index, 0, 0))
            v_all = jax.lax.dynamic_update_slice(v_all, v.astype(v_all.dtype)[None], (i, 0, index, 0, 0))
            return (x, k_all, v_all, i + 1), None

        with jax.named_scope("layers"):
            (x, k_all, v_all, _), _ = jax.lax.scan(
                cached_body,
                (x, cache.k, cache.v, jnp.zeros((), jnp.int32)),
                layer_state,
                unroll=self.cfg.scan_unroll,
            )
        return self.norm(x), cache.replace(k=k_all, v=v_all)


class CausalLM(nnx.Module):
    """Decoder + lm_head (or the tied embedding); returns float32 logits."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs, lm_head: bool = True):
        self.config = config
        self.model = Decoder(config, rngs=rngs)
        # A reward model's backbone has no lm_head (it would be dead weight in the optimizer).
        untied = lm_head and not config.tie_word_embeddings
        self.lm_head = (
            Proj(config, (config.hidden_size, config.vocab_size), ("embed", "vocab"), bias=False, rngs=rngs)
            if untied
            else None
        )
        self.has_lm_head = lm_head

    def hidden_states(
        self,
        input_ids: Int[Array, "B T"],
        attention_mask: Int[Array, "B T"],
        positions: Int[Array, "B T"] | None = None,
    ) -> Float[Array, "B T D"]:
        """Final normed hidden states (no lm_head), for heads that reuse the backbone."""
        return self.model(input_ids, attention_mask, positions)[0]

    def logits(self, hidden: Float[Array, "B T D"]) -> Float[Array, "B T V"]:
        """Float32 logits for hidden states."""
        if not self.has_lm_head:
            raise ValueError("this backbone was built without an lm_head (it belongs to a RewardModel)")
        if self.lm_head is None:
            out = self.model.embed_tokens.attend(hidden)
        else:
            out = jnp.einsum(
                "BTD,DV->BTV",
                hidden,
                self.lm_head.kernel[...].astype(self.config.compute_dtype),
                preferred_element_type=jnp.float32,
            )
        return constrain(out, ("act_batch", "act_len", "act_vocab"))

    def __call__(
        self,
        input_ids: Int[Array, "B T"],
        attention_mask: Int[Array, "B T"],
        *,
        positions: Int[Array, "B T"] | None = None,
        cache: Cache | None = None,
    ) -> Float[Array, "B T V"] | tuple[Float[Array, "B T V"], Cache]:
        """Logits [B, T, V] float32; with `cache`, `(logits, updated cache)`."""
        hidden, new_cache = self.model(input_ids, attention_mask, positions, cache)
        logits = self.logits(hidden)
        if cache is None:
            return logits
        return logits, new_cache
