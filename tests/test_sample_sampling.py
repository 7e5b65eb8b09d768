"""Temperature / top-k / top-p sampling draws from the intended distributions (small vocabulary)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from acecoder_jax.sample.sampling import apply_top_k, apply_top_p, next_token, validate_settings

LOGITS = np.array([2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -3.0], dtype=np.float32)
DRAWS = 40_000


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _expected(temperature: float, top_k: int, top_p: float) -> np.ndarray:
    """The reference distribution, computed independently in numpy (sort, cut, renormalise)."""
    probs = _softmax(LOGITS.astype(np.float64) / temperature)
    keep = np.ones_like(probs, dtype=bool)
    order = np.argsort(-probs)
    if top_k:
        keep[order[top_k:]] = False
    masked = np.where(keep, probs, 0.0)
    masked /= masked.sum()
    if top_p < 1.0:
        cumulative = 0.0
        keep_p = np.zeros_like(keep)
        for index in np.argsort(-masked):
            if masked[index] == 0 or cumulative >= top_p:
                break
            keep_p[index] = True
            cumulative += masked[index]
        masked = np.where(keep_p, masked, 0.0)
        masked /= masked.sum()
    return masked


def _draw(temperature: float, top_k: int, top_p: float, seed: int = 0) -> np.ndarray:
    logits = jnp.broadcast_to(jnp.asarray(LOGITS), (DRAWS, LOGITS.size))
    tokens, _ = next_token(
        jax.random.split(jax.random.key(seed), DRAWS),
        logits,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
    )
    return np.bincount(np.asarray(tokens), minlength=LOGITS.size)


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"),
    [(1.0, 0, 1.0), (0.7, 0, 1.0), (1.5, 0, 1.0), (1.0, 3, 1.0), (1.0, 0, 0.8), (0.5, 5, 0.9), (1.3, 6, 0.6)],
)
def test_sampling_matches_the_intended_distribution(temperature, top_k, top_p):
    expected = _expected(temperature, top_k, top_p)
    counts = _draw(temperature, top_k, top_p)
    # Tokens outside the top-k / nucleus are never drawn.
    assert np.all(counts[expected == 0] == 0), (counts, expected)
    # Every kept token within 5 binomial standard deviations of its expected count.
    mean = DRAWS * expected
    sigma = np.sqrt(DRAWS * expected * (1 - expected))
    assert np.all(np.abs(counts - mean) <= 5 * sigma + 1e-9), (counts, mean, sigma)
    # And a chi-square statistic far below the 1e-6 tail (df <= 7: critical value ~ 41).
    kept = expected > 0
    chi2 = float(np.sum((counts[kept] - mean[kept]) ** 2 / mean[kept]))
    assert chi2 < 41.0, chi2


def test_the_check_has_power_a_wrong_temperature_is_detected():
    counts = _draw(1.0, 0, 1.0)
    mean = DRAWS * _expected(0.7, 0, 1.0)
    chi2 = float(np.sum((counts - mean) ** 2 / mean))
    assert chi2 > 41.0


def test_greedy_is_argmax_and_logprobs_are_the_raw_log_softmax():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 11)).astype(np.float32)
    tokens, logprobs = next_token(
        jax.random.split(jax.random.key(0), 5), jnp.asarray(logits), temperature=0.0, top_p=0.5, top_k=2
    )
    np.testing.assert_array_equal(np.asarray(tokens), logits.argmax(-1))
    reference = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(np.asarray(logprobs), reference[np.arange(5), logits.argmax(-1)], rtol=1e-6)
    # Sampled tokens also report the model's own (unprocessed) log-probability.
    tokens, logprobs = next_token(
        jax.random.split(jax.random.key(1), 5), jnp.asarray(logits), temperature=0.7, top_p=0.9, top_k=4
    )
    np.testing.assert_allclose(np.asarray(logprobs), reference[np.arange(5), np.asarray(tokens)], rtol=1e-6)


def test_masks_keep_ties_and_at_least_one_token():
    logits = jnp.asarray([[3.0, 3.0, 1.0, 0.0]])
    assert np.isfinite(np.asarray(apply_top_k(logits, 1))).sum() == 4  # masked entries are finite but tiny
    assert (np.asarray(apply_top_k(logits, 1)) > -1e29).sum() == 2  # a tie at the k-th value is kept
    assert (np.asarray(apply_top_p(logits, 1e-6)) > -1e29).sum() == 2  # the top token (and its tie) survive


@pytest.mark.parametrize(
    ("temperature", "top_p", "top_k"), [(-1.0, 1.0, 0), (1.0, 0.0, 0), (1.0, 1.5, 0), (1.0, 1.0, -1)]
)
def test_invalid_settings_are_rejected(temperature, top_p, top_k):
    with pytest.raises(ValueError):
        validate_settings(temperature, top_p, top_k)
