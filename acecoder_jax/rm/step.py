"""What the reward model gives the shared train step (acecoder_jax/train/step.py): pair scores and BT sums.

Chosen and rejected sequences are scored in ONE forward (concatenated along the batch); the Bradley-Terry
loss and its metrics come back as weighted sums, which the shared step normalises by the summed pair weight.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from acecoder_jax.rm.loss import bradley_terry_sums
from acecoder_jax.sharding import constrain
from acecoder_jax.train.step import LossSumsFn

BATCH_KEYS = ("chosen_ids", "chosen_mask", "rejected_ids", "rejected_mask", "weight")


def score_pairs(model: nnx.Module, batch: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
    """(r_chosen, r_rejected) float32 [B] from one forward over the concatenated [2B, T] batch."""
    n = batch["chosen_ids"].shape[0]
    ids = jnp.concatenate([batch["chosen_ids"], batch["rejected_ids"]], axis=0)
    mask = jnp.concatenate([batch["chosen_mask"], batch["rejected_mask"]], axis=0)
    ids = constrain(ids, ("act_batch", "act_len"))
    mask = constrain(mask, ("act_batch", "act_len"))
    rewards = model(ids, mask)
    return rewards[:n], rewards[n:]


def bradley_terry_loss_sums(*, margin: float = 0.0, center_rewards_coef: float = 0.0) -> LossSumsFn:
    """loss_sums_fn for the shared steps: Bradley-Terry sums (rm/loss.py) of one batch of pairs."""

    def loss_sums(model: nnx.Module, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
        r_chosen, r_rejected = score_pairs(model, batch)
        return bradley_terry_sums(
            r_chosen, r_rejected, batch["weight"], margin=margin, center_rewards_coef=center_rewards_coef
        )

    return loss_sums
