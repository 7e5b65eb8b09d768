# ruff: noqa: F722  (jaxtyping shape strings such as " B" are not forward references)
"""The Bradley-Terry pairwise loss and its metrics, as weighted sums (so micro-batches and padding add up)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

METRIC_SUMS = ("loss", "bt_loss", "accuracy", "margin", "chosen_reward", "rejected_reward")


def bradley_terry_sums(
    r_chosen: Float[Array, " B"],
    r_rejected: Float[Array, " B"],
    weight: Float[Array, " B"],
    *,
    margin: float = 0.0,
    center_rewards_coef: float = 0.0,
) -> dict[str, Float[Array, ""]]:
    """Weighted sums over pairs of -log sigmoid(r_c - r_r - margin) (+ coef * (r_c + r_r)^2) and metrics.

    Divide by the total weight for means. `accuracy` counts r_c > r_r (ties are wrong, as in TRL/OpenRLHF);
    `margin` is the reward difference r_c - r_r.
    """
    r_chosen = r_chosen.astype(jnp.float32)
    r_rejected = r_rejected.astype(jnp.float32)
    diff = r_chosen - r_rejected
    bt = -jax.nn.log_sigmoid(diff - margin)
    loss = bt
    if center_rewards_coef:
        loss = loss + center_rewards_coef * jnp.square(r_chosen + r_rejected)
    return {
        "loss": jnp.sum(weight * loss),
        "bt_loss": jnp.sum(weight * bt),
        "accuracy": jnp.sum(weight * (diff > 0).astype(jnp.float32)),
        "margin": jnp.sum(weight * diff),
        "chosen_reward": jnp.sum(weight * r_chosen),
        "rejected_reward": jnp.sum(weight * r_rejected),
    }
