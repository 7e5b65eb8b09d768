"""Next-token choice from fp32 logits: temperature, top-k, then top-p (nucleus), as transformers orders them.

Everything here is jit-friendly; the settings are Python numbers so each combination compiles once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

NEG_INF = -1e30  # finite, so a fully masked row still gives a defined (uniform) softmax instead of NaN


def validate_settings(temperature: float, top_p: float, top_k: int) -> None:
    """Raise ValueError for settings that have no meaning."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0 disables it), got {top_k}")


def apply_top_k(logits: jax.Array, top_k: int) -> jax.Array:
    """Keep the `top_k` largest logits of each row (ties at the boundary are kept); 0 keeps all."""
    if top_k <= 0 or top_k >= logits.shape[-1]:
        return logits
    kth = jax.lax.top_k(logits, top_k)[0][..., -1:]
    return jnp.where(logits < kth, NEG_INF, logits)


def apply_top_p(logits: jax.Array, top_p: float) -> jax.Array:
    """Keep the smallest set of most likely tokens whose probability reaches `top_p`; 1.0 keeps all."""
    if top_p >= 1.0:
        return logits
    sorted_logits = jnp.sort(logits, axis=-1)[..., ::-1]
    probs = jax.nn.softmax(sorted_logits, axis=-1)
    mass_before = jnp.cumsum(probs, axis=-1) - probs
    # A token is kept when the tokens ranked above it hold less than top_p; the first is always kept.
    kept = mass_before < top_p
    threshold = jnp.min(jnp.where(kept, sorted_logits, jnp.inf), axis=-1, keepdims=True)
    return jnp.where(logits < threshold, NEG_INF, logits)


def processed_logits(logits: jax.Array, temperature: float, top_p: float, top_k: int) -> jax.Array:
    """The logits sampling draws from: fp32, divided by temperature, then top-k and top-p masks."""
    logits = logits.astype(jnp.float32) / temperature
    return apply_top_p(apply_top_k(logits, top_k), top_p)


def next_token(
    keys: jax.Array, logits: jax.Array, *, temperature: float, top_p: float, top_k: int
) -> tuple[jax.Array, jax.Array]:
    """Choose one token per row from logits [B, V] with one PRNG key per row (`keys` [B]); returns (tokens
    [B] int32, log-probs [B] fp32). A row's draw depends only on its own key and logits, never on which
    other rows share the batch or how the batch is sharded.

    Log-probabilities are those of the model's own distribution (log-softmax of the raw fp32 logits), the
    quantity RL needs and a full forward pass reproduces; temperature 0 is greedy (argmax).
    """
    logits = logits.astype(jnp.float32)
    if temperature == 0.0:
        tokens = jnp.argmax(logits, axis=-1)
    else:
        processed = processed_logits(logits, temperature, top_p, top_k)
        tokens = jax.vmap(lambda key, row: jax.random.categorical(key, row))(keys, processed)
    tokens = tokens.astype(jnp.int32)
    logprobs = jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), tokens[:, None], axis=-1)[:, 0]
    return tokens, logprobs
