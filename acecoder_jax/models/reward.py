# ruff: noqa: F722  (jaxtyping shape strings such as "B T D" are not forward references)
"""`RewardModel`: a decoder backbone + AceCodeRM's scalar head `v_head.summary` at the last real token."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float, Int

from acecoder_jax.models.config import ModelConfig
from acecoder_jax.models.layers import param
from acecoder_jax.models.transformer import CausalLM


def last_token_index(attention_mask: Int[Array, "B T"]) -> Int[Array, " B"]:
    """Index of the last non-pad token per row; works for left and right padding."""
    t = attention_mask.shape[-1]
    idx = jnp.arange(t, dtype=jnp.int32)[None, :]
    return jnp.max(jnp.where(attention_mask.astype(jnp.bool_), idx, -1), axis=-1).clip(0)


class Summary(nnx.Module):
    """Linear(hidden, 1) with bias, in float32 (the head's output is the reward)."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        # OpenRLHF's init_value_head: normal(0, 1 / (hidden + 1)); keeps initial rewards near zero.
        std = 1.0 / (config.hidden_size + 1)
        self.kernel = nnx.Param(
            (std * jax.random.normal(rngs.params(), (config.hidden_size, 1), jnp.float32)).astype(
                config.weight_dtype
            ),
            logical_axes=("embed", "score"),
        )
        self.bias = param(rngs, (1,), ("score",), config, "zeros")

    def __call__(self, h: Float[Array, "B D"]) -> Float[Array, " B"]:
        out = h.astype(jnp.float32) @ self.kernel[...].astype(jnp.float32) + self.bias[...].astype(
            jnp.float32
        )
        return out[:, 0]


class ValueHead(nnx.Module):
    """Holds `summary` so parameter paths read `v_head.summary.*` as in AceCodeRM checkpoints."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.summary = Summary(config, rngs=rngs)


class RewardModel(nnx.Module):
    """Backbone + `v_head.summary`; `__call__` returns float32 scores [B] at each row's last real token."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.backbone = CausalLM(config, rngs=rngs, lm_head=False)
        self.v_head = ValueHead(config, rngs=rngs)

    def __call__(self, input_ids: Int[Array, "B T"], attention_mask: Int[Array, "B T"]) -> Float[Array, " B"]:
        """Scalar reward per row."""
        hidden = self.backbone.hidden_states(input_ids, attention_mask)
        last = last_token_index(attention_mask)
        picked = jnp.take_along_axis(hidden, last[:, None, None], axis=1)[:, 0, :]
        return self.v_head.summary(picked)
