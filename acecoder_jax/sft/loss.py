# ruff: noqa: F722  (jaxtyping shape strings such as "B T" are not forward references)
"""Masked token cross-entropy as sums (so micro-batches, padding and processes add up exactly).

The loss of a batch is sum over rows b and positions t of loss_mask[b, t] * -log p(input_ids[b, t] |
input_ids[b, :t]); divided by the number of trained tokens it is the token-mean cross-entropy (TRL's
SFTTrainer). Log-probabilities come from `rl.logprobs.token_logprobs`, which never holds more than
[B, chunk, V] logits at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from acecoder_jax.rl.logprobs import token_logprobs

METRIC_SUMS = ("loss",)
BATCH_KEYS = ("input_ids", "attention_mask", "loss_mask", "weight")


def masked_nll_sums(
    logprobs: Float[Array, "B T"], loss_mask: Int[Array, "B T"]
) -> dict[str, Float[Array, ""]]:
    """Summed negative log-likelihood of the masked tokens."""
    return {"loss": -jnp.sum(logprobs * loss_mask.astype(jnp.float32))}


def row_weights(loss_mask: np.ndarray) -> np.ndarray:
    """Trained tokens per row [B] float32: the weight whose global sum makes the loss a token mean (an eval
    filler row has no trained token, so weight 0)."""
    return loss_mask.sum(axis=1).astype(np.float32)


def sft_loss_sums(chunk: int = 512) -> Callable[[Any, dict[str, jax.Array]], dict[str, jax.Array]]:
    """loss_sums_fn(model, micro_batch) for the shared train step: masked NLL sums of a micro-batch."""

    def loss_sums(model: Any, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
        logprobs, _ = token_logprobs(model, batch["input_ids"], batch["attention_mask"], chunk=chunk)
        return masked_nll_sums(logprobs, batch["loss_mask"])

    return loss_sums
