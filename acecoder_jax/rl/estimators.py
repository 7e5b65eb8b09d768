# ruff: noqa: F722  (jaxtyping shape strings such as "B T" are not forward references)
"""Advantage estimators for critic-free RL, as in OpenRLHF (which AceCoder's RL fork is built on).

Rows are prompt-major: row `i * group_size + j` is sample j of prompt i. Every estimator returns per-token
advantages [B, T], 0 at masked positions. With `kl_coef > 0` the KL penalty is folded into the per-token
reward (k1/k2/k3 of d = logp - ref_logp), the scalar reward is added at the last response token, and the
advantage is the return (sum of later token rewards, discounted by gamma), as OpenRLHF does for every
critic-free estimator:

- `reinforce` (Reinforce++, the AceCoder paper's): returns whitened over every valid token of the batch;
- `reinforce_baseline`: the group mean reward subtracted first, then whitened like `reinforce`;
- `grpo`: (r - group mean) / (group sample std + 1e-9), not whitened;
- `rloo`: r minus the mean of the other samples of its group, not whitened;
- `dr_grpo`: r minus the group mean (no std division), not whitened.

Pure functions of host or device arrays (numpy inputs work); jit-able with the estimator name static.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

ESTIMATORS = ("reinforce", "reinforce_baseline", "grpo", "rloo", "dr_grpo")
KL_ESTIMATORS = ("k1", "k2", "k3")
WHITENED = ("reinforce", "reinforce_baseline")


def kl_penalty(logprobs: Array, ref_logprobs: Array, estimator: str = "k1") -> Array:
    """Per-token KL estimate from d = logp - ref_logp: k1 = d, k2 = d^2 / 2, k3 = exp(-d) - 1 + d."""
    d = jnp.asarray(logprobs, jnp.float32) - jnp.asarray(ref_logprobs, jnp.float32)
    if estimator == "k1":
        return d
    if estimator == "k2":
        return 0.5 * jnp.square(d)
    if estimator == "k3":
        return jnp.exp(-d) - 1.0 + d
    raise ValueError(f"kl_estimator must be one of {KL_ESTIMATORS}, got {estimator!r}")


def group_baseline(estimator: str, rewards: Float[Array, " B"], group_size: int) -> Float[Array, " B"]:
    """The scalar each row's return is built from: its reward, centred (and scaled) within its group."""
    rewards = jnp.asarray(rewards, jnp.float32)
    if estimator == "reinforce":
        return rewards
    if rewards.shape[0] % group_size:
        raise ValueError(f"{rewards.shape[0]} rows are not whole groups of {group_size}")
    groups = rewards.reshape(-1, group_size)
    mean = groups.mean(axis=1, keepdims=True)
    if estimator in ("reinforce_baseline", "dr_grpo"):
        out = groups - mean
    elif estimator == "grpo":
        std = groups.std(axis=1, ddof=1, keepdims=True) if group_size > 1 else jnp.zeros_like(mean)
        out = (groups - mean) / (std + 1e-9)
    elif estimator == "rloo":
        if group_size < 2:
            raise ValueError("rloo needs group_size >= 2 (the mean of the other samples)")
        others = (groups.sum(axis=1, keepdims=True) - groups) / (group_size - 1)
        out = groups - others
    else:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    return out.reshape(-1)


def token_rewards(
    scalars: Float[Array, " B"],
    mask: Float[Array, "B T"],
    *,
    kl: Float[Array, "B T"] | None = None,
    kl_coef: float = 0.0,
) -> Float[Array, "B T"]:
    """-kl_coef * kl at every response token, plus the scalar at the last response token."""
    mask = jnp.asarray(mask, jnp.float32)
    positions = jnp.arange(mask.shape[1])
    last = jnp.max(jnp.where(mask > 0, positions, -1), axis=1)
    at_last = (positions[None, :] == last[:, None]).astype(jnp.float32)
    rewards = at_last * jnp.asarray(scalars, jnp.float32)[:, None]
    if kl is not None and kl_coef:
        rewards = rewards - kl_coef * jnp.asarray(kl, jnp.float32) * mask
    return rewards * mask


def discounted_returns(rewards: Float[Array, "B T"], mask: Float[Array, "B T"], gamma: float = 1.0) -> Array:
    """G_t = r_t + gamma * G_{t+1} over response tokens (masked positions are skipped, not zeroed in)."""
    rewards = jnp.asarray(rewards, jnp.float32) * mask
    if gamma == 1.0:
        return jnp.flip(jnp.cumsum(jnp.flip(rewards, 1), axis=1), 1) * mask
    steps = rewards.shape[1]
    out = []
    running = jnp.zeros(rewards.shape[0], jnp.float32)
    for t in range(steps - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        out.append(running)
    return jnp.stack(out[::-1], axis=1) * mask


def whiten(values: Float[Array, "B T"], mask: Float[Array, "B T"], eps: float = 1e-8) -> Array:
    """(x - mean) / sqrt(var + eps) over valid tokens only (biased variance), 0 at masked positions."""
    mask = jnp.asarray(mask, jnp.float32)
    count = jnp.maximum(mask.sum(), 1.0)
    mean = (values * mask).sum() / count
    var = (jnp.square(values - mean) * mask).sum() / count
    return (values - mean) * jnp.reciprocal(jnp.sqrt(var + eps)) * mask


def compute_advantages(
    estimator: str,
    rewards: Float[Array, " B"],
    mask: Float[Array, "B T"],
    *,
    logprobs: Float[Array, "B T"] | None = None,
    ref_logprobs: Float[Array, "B T"] | None = None,
    kl_coef: float = 0.0,
    kl_estimator: str = "k1",
    group_size: int = 1,
    gamma: float = 1.0,
) -> Float[Array, "B T"]:
    """Per-token advantages [B, T] for `estimator` (see the module docstring); 0 at masked positions."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    mask = jnp.asarray(mask, jnp.float32)
    kl = None
    if kl_coef:
        if logprobs is None or ref_logprobs is None:
            raise ValueError("kl_coef > 0 needs logprobs and ref_logprobs")
        kl = kl_penalty(logprobs, ref_logprobs, kl_estimator)
    scalars = group_baseline(estimator, rewards, group_size)
    returns = discounted_returns(token_rewards(scalars, mask, kl=kl, kl_coef=kl_coef), mask, gamma)
    return whiten(returns, mask) if estimator in WHITENED else returns
