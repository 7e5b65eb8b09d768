# ruff: noqa: F722  (jaxtyping shape strings such as "B T" are not forward references)
"""The PPO-clip policy loss (with dual clip and clip-higher), KL as a loss term, and entropy.

`policy_loss_sums` returns weighted sums so the shared train step can normalise exactly over every
micro-batch and device: with `token-mean` the weight is the number of response tokens, so the loss is the
mean over all tokens of the global batch; with `seq-mean-token-mean` (AceCoder's fork: each sequence's token
mean, then the batch mean) and `seq-mean-token-sum-norm` (Dr. GRPO: each sequence's token sum divided by a
constant, then the batch mean) the weight is the number of sequences. `policy_loss` is the same for one
batch on its own.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from acecoder_jax.rl.estimators import kl_penalty

AGGREGATIONS = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm")
METRIC_SUMS = ("policy_loss", "clip_frac", "approx_kl", "kl", "entropy")


def clipped_surrogate(
    logprobs: Array,
    old_logprobs: Array,
    advantages: Array,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    dual_clip: float | None = None,
) -> tuple[Array, Array, Array]:
    """Per-token (loss, clipped?, ratio): -min(r A, clip(r, 1 - low, 1 + high) A); with dual clip, negative
    advantages are bounded by -dual_clip * A."""
    ratio = jnp.exp(logprobs.astype(jnp.float32) - old_logprobs.astype(jnp.float32))
    surrogate = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip_low, 1.0 + clip_high) * advantages
    best = jnp.minimum(surrogate, clipped)
    if dual_clip is not None:
        if dual_clip <= 1.0:
            raise ValueError(f"dual_clip must be > 1, got {dual_clip}")
        best = jnp.where(advantages < 0, jnp.maximum(best, dual_clip * advantages), best)
    return -best, (clipped < surrogate).astype(jnp.float32), ratio


def _aggregate(per_token: Array, mask: Array, aggregation: str, norm: float) -> tuple[Array, Array, Array]:
    """(sum of the loss terms, their weight, per-row weight) for `aggregation`."""
    if aggregation == "token-mean":
        return (per_token * mask).sum(), mask.sum(), mask
    tokens = jnp.maximum(mask.sum(axis=1), 1.0)
    rows = (mask.sum(axis=1) > 0).astype(jnp.float32)
    if aggregation == "seq-mean-token-mean":
        per_row = (per_token * mask).sum(axis=1) / tokens
    elif aggregation == "seq-mean-token-sum-norm":
        per_row = (per_token * mask).sum(axis=1) / norm
    else:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    return (per_row * rows).sum(), rows.sum(), rows[:, None] * mask / tokens[:, None]


def policy_loss_sums(
    logprobs: Float[Array, "B T"],
    old_logprobs: Float[Array, "B T"],
    advantages: Float[Array, "B T"],
    mask: Float[Array, "B T"],
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    dual_clip: float | None = None,
    aggregation: str = "token-mean",
    norm: float | None = None,
    ref_logprobs: Float[Array, "B T"] | None = None,
    kl_loss_coef: float = 0.0,
    kl_estimator: str = "k3",
    entropy: Float[Array, "B T"] | None = None,
    entropy_coef: float = 0.0,
) -> tuple[dict[str, Array], Array]:
    """(weighted sums of the loss and metrics, their total weight); divide a sum by the global weight.

    `loss` = clipped surrogate (+ kl_loss_coef * KL(logp || ref) with the k2/k3 estimator, the alternative to
    KL in the reward) (- entropy_coef * entropy); every term aggregated the same way. `norm` is the constant
    of seq-mean-token-sum-norm (default: the padded response length T).
    """
    mask = jnp.asarray(mask, jnp.float32)
    norm = float(norm if norm is not None else mask.shape[1])
    surrogate, clipped, _ = clipped_surrogate(
        logprobs, old_logprobs, advantages, clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip
    )
    per_token = surrogate
    kl = jnp.zeros_like(surrogate)
    if ref_logprobs is not None:
        kl = kl_penalty(logprobs, ref_logprobs, kl_estimator)
        per_token = per_token + kl_loss_coef * kl
    ent = jnp.zeros_like(surrogate) if entropy is None else jnp.asarray(entropy, jnp.float32)
    if entropy_coef:
        per_token = per_token - entropy_coef * ent
    loss_sum, weight, token_weight = _aggregate(per_token, mask, aggregation, norm)
    log_ratio = logprobs.astype(jnp.float32) - old_logprobs.astype(jnp.float32)
    sums = {
        "loss": loss_sum,
        "policy_loss": _aggregate(surrogate, mask, aggregation, norm)[0],
        "clip_frac": (clipped * token_weight).sum(),
        "approx_kl": (0.5 * jnp.square(log_ratio) * token_weight).sum(),
        "kl": (kl * token_weight).sum(),
        "entropy": (ent * token_weight).sum(),
    }
    return sums, weight


def policy_loss(
    logprobs: Float[Array, "B T"],
    old_logprobs: Float[Array, "B T"],
    advantages: Float[Array, "B T"],
    mask: Float[Array, "B T"],
    **options: object,
) -> tuple[Array, dict[str, Array]]:
    """(loss, metrics) of one batch: `policy_loss_sums` divided by its own weight (see the module doc)."""
    sums, weight = policy_loss_sums(logprobs, old_logprobs, advantages, mask, **options)  # type: ignore[arg-type]
    weight = jnp.maximum(weight, 1e-9)
    metrics = {name: value / weight for name, value in sums.items() if name != "loss"}
    ratio = jnp.exp(logprobs.astype(jnp.float32) - old_logprobs.astype(jnp.float32))
    valid = jnp.asarray(mask) > 0
    metrics["ratio_min"] = jnp.min(jnp.where(valid, ratio, jnp.inf))
    metrics["ratio_max"] = jnp.max(jnp.where(valid, ratio, -jnp.inf))
    return sums["loss"] / weight, metrics
