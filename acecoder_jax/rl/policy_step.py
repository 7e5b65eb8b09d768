"""The RL micro-batch loss for the shared train step: recomputed log-probabilities -> PPO-clip sums.

A rollout batch row carries `input_ids`, `attention_mask`, `response_mask`, `old_logprobs` (the sampler's),
`advantages`, optionally `ref_logprobs` (for KL as a loss term) and `weight`: the row's share of the loss
normaliser (its response tokens for token-mean, 1 for the per-sequence aggregations), whose global sum the
train step divides by, so micro-batching and the mesh never change the gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from acecoder_jax.rl.logprobs import token_logprobs
from acecoder_jax.rl.policy_loss import policy_loss_sums

ROW_FIELDS = ("input_ids", "attention_mask", "response_mask", "old_logprobs", "advantages", "weight")
EXTREMA = {"ratio_min": "min", "ratio_max": "max"}


@dataclass(frozen=True)
class PolicyLossSettings:
    """The options of `policy_loss_sums` and the log-probability recomputation."""

    clip_low: float = 0.2
    clip_high: float = 0.2
    dual_clip: float | None = None
    aggregation: str = "token-mean"
    kl_loss_coef: float = 0.0
    kl_loss_estimator: str = "k3"
    entropy_coef: float = 0.0
    temperature: float = 1.0
    logprob_chunk: int = 512


def row_weights(response_mask: np.ndarray, aggregation: str) -> np.ndarray:
    """Each row's share of the loss normaliser: response tokens (token-mean) or 1 per non-empty row."""
    tokens = response_mask.sum(axis=1).astype(np.float32)
    return tokens if aggregation == "token-mean" else (tokens > 0).astype(np.float32)


def make_policy_loss_sums(settings: PolicyLossSettings) -> Callable[[object, dict[str, jax.Array]], dict]:
    """loss_sums_fn(model, micro_batch) for `acecoder_jax.train.step.make_train_step`."""

    def loss_sums(model: object, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
        logprobs, entropy = token_logprobs(
            model,
            batch["input_ids"],
            batch["attention_mask"],
            chunk=settings.logprob_chunk,
            temperature=settings.temperature,
        )
        mask = batch["response_mask"].astype(jnp.float32)
        sums, _ = policy_loss_sums(
            logprobs,
            batch["old_logprobs"],
            batch["advantages"],
            mask,
            clip_low=settings.clip_low,
            clip_high=settings.clip_high,
            dual_clip=settings.dual_clip,
            aggregation=settings.aggregation,
            ref_logprobs=batch.get("ref_logprobs") if settings.kl_loss_coef else None,
            kl_loss_coef=settings.kl_loss_coef,
            kl_estimator=settings.kl_loss_estimator,
            entropy=entropy,
            entropy_coef=settings.entropy_coef,
        )
        kl_term = sums.pop("kl")  # "kl" in the metrics is the rollout's KL to the reference (in the reward)
        if settings.kl_loss_coef:
            sums["kl_loss"] = kl_term
        ratio = jnp.exp(jax.lax.stop_gradient(logprobs) - batch["old_logprobs"].astype(jnp.float32))
        valid = mask > 0
        sums["ratio_min"] = jnp.min(jnp.where(valid, ratio, jnp.inf))
        sums["ratio_max"] = jnp.max(jnp.where(valid, ratio, -jnp.inf))
        return sums

    return loss_sums
