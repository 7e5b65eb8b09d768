"""The Bradley-Terry loss against its formula (accumulation and meshes: tests/test_rm_train.py)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from acecoder_jax.rm.loss import bradley_terry_sums


def test_bradley_terry_loss_matches_its_formula():
    rc = np.array([2.0, -1.0, 0.5, 0.0], np.float32)
    rr = np.array([1.0, 0.5, 0.5, -3.0], np.float32)
    w = np.array([1.0, 1.0, 1.0, 0.0], np.float32)  # the last pair is padding
    sums = bradley_terry_sums(
        jnp.asarray(rc), jnp.asarray(rr), jnp.asarray(w), margin=0.5, center_rewards_coef=0.1
    )
    diff = (rc - rr)[:3]
    bt = np.log1p(np.exp(-(diff - 0.5)))  # -log sigmoid(x) = log(1 + e^-x)
    np.testing.assert_allclose(float(sums["bt_loss"]), bt.sum(), rtol=1e-6)
    np.testing.assert_allclose(float(sums["loss"]), (bt + 0.1 * (rc + rr)[:3] ** 2).sum(), rtol=1e-6)
    assert float(sums["accuracy"]) == 1.0  # only pair 0 has r_c > r_r; a tie (pair 2) counts as wrong
    np.testing.assert_allclose(float(sums["margin"]), diff.sum(), rtol=1e-6)
