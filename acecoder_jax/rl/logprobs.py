# ruff: noqa: F722  (jaxtyping shape strings such as "B T" are not forward references)
"""Per-token log-probabilities (and entropies) of given sequences, computed a chunk of positions at a time.

A [B, T, V] float32 logits tensor for a 152K vocabulary would dwarf everything else in an RL step (8 x 4096
positions: 20 GB), so the hidden states are computed once and the logits only for `chunk` positions at a
time, each chunk rematerialised in the backward pass.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def token_logprobs(
    model: Any,
    input_ids: Int[Array, "B T"],
    attention_mask: Int[Array, "B T"],
    *,
    chunk: int = 512,
    temperature: float = 1.0,
) -> tuple[Float[Array, "B T"], Float[Array, "B T"]]:
    """(log p(x_t | x_<t), entropy of that distribution), [B, T] float32, for t >= 1 (column 0 is 0).

    `temperature` divides the logits first, as the sampler's distribution did (1.0: the model's own).
    """
    hidden = model.hidden_states(input_ids, attention_mask)  # [B, T, D]
    batch, length, width = hidden.shape
    steps = length - 1
    size = max(1, min(chunk, steps))
    pieces = -(-steps // size)
    pad = pieces * size - steps
    states = jnp.pad(hidden[:, :-1], ((0, 0), (0, pad), (0, 0)))
    targets = jnp.pad(input_ids[:, 1:], ((0, 0), (0, pad)))
    states = states.reshape(batch, pieces, size, width).swapaxes(0, 1)
    targets = targets.reshape(batch, pieces, size).swapaxes(0, 1)

    @jax.checkpoint
    def one(piece: tuple[Array, Array]) -> tuple[Array, Array]:
        state, target = piece
        logits = model.logits(state).astype(jnp.float32) / temperature
        normaliser = jax.nn.logsumexp(logits, axis=-1)
        chosen = jnp.take_along_axis(logits, target[..., None], axis=-1)[..., 0]
        probs = jnp.exp(logits - normaliser[..., None])
        entropy = normaliser - jnp.sum(probs * logits, axis=-1)
        return chosen - normaliser, entropy

    logp, entropy = jax.lax.map(one, (states, targets))
    logp = logp.swapaxes(0, 1).reshape(batch, pieces * size)[:, :steps]
    entropy = entropy.swapaxes(0, 1).reshape(batch, pieces * size)[:, :steps]
    zero = jnp.zeros((batch, 1), jnp.float32)
    return jnp.concatenate([zero, logp], axis=1), jnp.concatenate([zero, entropy], axis=1)
