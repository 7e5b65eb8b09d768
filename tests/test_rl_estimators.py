"""Advantage estimators and the policy loss against hand-computed values (OpenRLHF's definitions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acecoder_jax.rl import compute_advantages, kl_penalty, policy_loss, policy_loss_sums

MASK = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.float32)


def test_reinforce_whitens_the_returns_over_every_valid_token():
    adv = np.asarray(compute_advantages("reinforce", np.array([1.0, 0.0]), MASK))
    # returns: row 0 = [1, 1, 1], row 1 = [0, 0]; mean 0.6, biased var 0.24 over the 5 valid tokens
    std = math.sqrt(0.24 + 1e-8)
    np.testing.assert_allclose(adv[0], [0.4 / std] * 3 + [0.0], rtol=1e-6)
    np.testing.assert_allclose(adv[1], [-0.6 / std] * 2 + [0.0, 0.0], rtol=1e-6)


def test_reinforce_folds_the_k1_kl_into_every_token_reward():
    d = np.array([[0.1, -0.2, 0.3, 9.0], [0.5, 0.0, 9.0, 9.0]], np.float32)  # logp - ref_logp
    adv = compute_advantages(
        "reinforce", np.array([1.0, 0.0]), MASK, logprobs=d, ref_logprobs=np.zeros_like(d), kl_coef=0.1
    )
    # token rewards: -0.1 * d, plus the reward at the last valid token; returns are suffix sums
    rewards = np.array([[-0.01, 0.02, 1 - 0.03], [-0.05, 0.0]], dtype=object)
    returns0 = [sum(rewards[0][t:]) for t in range(3)]
    returns1 = [sum(rewards[1][t:]) for t in range(2)]
    flat = np.array(returns0 + returns1)
    expected = (flat - flat.mean()) / math.sqrt(flat.var() + 1e-8)
    np.testing.assert_allclose(np.asarray(adv)[0, :3], expected[:3], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(adv)[1, :2], expected[3:], rtol=1e-5)
    assert np.asarray(adv)[0, 3] == 0 and np.all(np.asarray(adv)[1, 2:] == 0)


def test_kl_estimators():
    d = np.array([0.5, -1.0], np.float32)
    np.testing.assert_allclose(kl_penalty(d, 0 * d, "k1"), d)
    np.testing.assert_allclose(kl_penalty(d, 0 * d, "k2"), d**2 / 2)
    np.testing.assert_allclose(kl_penalty(d, 0 * d, "k3"), np.exp(-d) - 1 + d, rtol=1e-6)
    with pytest.raises(ValueError, match="kl_estimator"):
        kl_penalty(d, d, "k4")


GROUP_REWARDS = np.array([1.0, 0.0, 0.5, 0.5], np.float32)
GROUP_MASK = np.ones((4, 3), np.float32)


@pytest.mark.parametrize(
    ("estimator", "expected"),
    [
        ("grpo", [1 / math.sqrt(2), -1 / math.sqrt(2), 0.0, 0.0]),  # sample std (ddof 1) of (1, 0) is 0.7071
        ("rloo", [1.0, -1.0, 0.0, 0.0]),  # r minus the mean of the other samples
        ("dr_grpo", [0.5, -0.5, 0.0, 0.0]),  # r minus the group mean
    ],
)
def test_group_estimators_are_not_whitened(estimator, expected):
    adv = np.asarray(compute_advantages(estimator, GROUP_REWARDS, GROUP_MASK, group_size=2))
    np.testing.assert_allclose(adv, np.repeat(np.array(expected)[:, None], 3, axis=1), rtol=1e-5, atol=1e-7)


def test_reinforce_baseline_centres_per_group_then_whitens():
    adv = np.asarray(compute_advantages("reinforce_baseline", GROUP_REWARDS, GROUP_MASK, group_size=2))
    centred = np.repeat(np.array([0.5, -0.5, 0.0, 0.0])[:, None], 3, axis=1)
    expected = (centred - centred.mean()) / math.sqrt(centred.var() + 1e-8)
    np.testing.assert_allclose(adv, expected, rtol=1e-5)


def test_discount_and_masked_positions():
    mask = np.array([[0, 1, 1, 1]], np.float32)  # left-padded response
    adv = np.asarray(
        compute_advantages("dr_grpo", np.array([2.0, 0.0]), np.vstack([mask, mask]), group_size=2)
    )
    np.testing.assert_allclose(adv[0], [0, 1, 1, 1])
    gamma = np.asarray(
        compute_advantages("rloo", np.array([2.0, 0.0]), np.vstack([mask, mask]), group_size=2, gamma=0.5)
    )
    np.testing.assert_allclose(gamma[0], [0, 0.5, 1.0, 2.0])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="estimator"):
        compute_advantages("ppo", GROUP_REWARDS, GROUP_MASK)
    with pytest.raises(ValueError, match="whole groups"):
        compute_advantages("grpo", GROUP_REWARDS[:3], GROUP_MASK[:3], group_size=2)
    with pytest.raises(ValueError, match="ref_logprobs"):
        compute_advantages("reinforce", GROUP_REWARDS, GROUP_MASK, kl_coef=0.1)


def test_clipped_surrogate_and_dual_clip_by_hand():
    ratios = [1.5, 0.5, 5.0, 1.1]
    advantages = [1.0, -1.0, -1.0, 2.0]
    logp = np.array([[math.log(r) for r in ratios]], np.float32)
    old = np.zeros_like(logp)
    adv = np.array([advantages], np.float32)
    mask = np.ones_like(logp)
    # -min(rA, clip(r, 0.8, 1.2) A) per token: 1.5 -> -1.2; 0.5 -> 0.8; 5.0 -> 5.0; 1.1 -> -2.2
    loss, metrics = policy_loss(logp, old, adv, mask)
    np.testing.assert_allclose(loss, np.mean([-1.2, 0.8, 5.0, -2.2]), rtol=1e-5)
    np.testing.assert_allclose(metrics["clip_frac"], 2 / 4)  # tokens 1 and 2 are clipped
    np.testing.assert_allclose(metrics["ratio_max"], 5.0, rtol=1e-5)
    # dual clip 3: the negative-advantage token with ratio 5 is bounded by -3 * A = 3
    loss, _ = policy_loss(logp, old, adv, mask, dual_clip=3.0)
    np.testing.assert_allclose(loss, np.mean([-1.2, 0.8, 3.0, -2.2]), rtol=1e-5)
    # clip-higher: 1.5 is clipped to 1.28 instead of 1.2
    loss, _ = policy_loss(logp, old, adv, mask, clip_high=0.28)
    np.testing.assert_allclose(loss, np.mean([-1.28, 0.8, 5.0, -2.2]), rtol=1e-5)


def test_aggregations_by_hand():
    logp = np.zeros((2, 3), np.float32)
    adv = np.array([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]], np.float32)
    mask = np.array([[1, 1, 1], [1, 0, 0]], np.float32)
    token, _ = policy_loss(logp, logp, adv, mask, aggregation="token-mean")
    np.testing.assert_allclose(token, -(1 + 2 + 3 + 4) / 4)
    seq, _ = policy_loss(logp, logp, adv, mask, aggregation="seq-mean-token-mean")
    np.testing.assert_allclose(seq, -((1 + 2 + 3) / 3 + 4 / 1) / 2)
    dr, _ = policy_loss(logp, logp, adv, mask, aggregation="seq-mean-token-sum-norm")
    np.testing.assert_allclose(dr, -((1 + 2 + 3) / 3 + 4 / 3) / 2)


@pytest.mark.parametrize("aggregation", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_sums_over_micro_batches_equal_the_whole_batch(aggregation):
    rng = np.random.default_rng(0)
    logp, old, adv = (rng.normal(size=(6, 5)).astype(np.float32) * 0.3 for _ in range(3))
    mask = (rng.random((6, 5)) > 0.3).astype(np.float32)
    whole, _ = policy_loss(logp, old, adv, mask, aggregation=aggregation, norm=5)
    total, weight = 0.0, 0.0
    for rows in (slice(0, 2), slice(2, 3), slice(3, 6)):
        sums, w = policy_loss_sums(
            logp[rows], old[rows], adv[rows], mask[rows], aggregation=aggregation, norm=5
        )
        total, weight = total + float(sums["loss"]), weight + float(w)
    np.testing.assert_allclose(total / weight, whole, rtol=1e-5)


def test_kl_as_a_loss_term_and_entropy_bonus():
    logp = np.array([[0.2, -0.1]], np.float32)
    ref = np.zeros_like(logp)
    mask = np.ones_like(logp)
    zero = np.zeros_like(logp)
    loss, metrics = policy_loss(logp, logp, zero, mask, ref_logprobs=ref, kl_loss_coef=0.5, kl_estimator="k3")
    k3 = np.exp(-logp) - 1 + logp
    np.testing.assert_allclose(loss, 0.5 * k3.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["kl"], k3.mean(), rtol=1e-5)
    entropy = np.array([[1.0, 3.0]], np.float32)
    loss, metrics = policy_loss(logp, logp, zero, mask, entropy=entropy, entropy_coef=0.1)
    np.testing.assert_allclose(loss, -0.1 * 2.0, rtol=1e-6)
    np.testing.assert_allclose(metrics["entropy"], 2.0)
