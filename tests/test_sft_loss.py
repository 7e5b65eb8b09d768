"""The SFT loss: summed NLL of exactly the masked tokens (the shifted targets), and token-count weights."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from acecoder_jax.models import ModelConfig, init_model
from acecoder_jax.sft.loss import row_weights, sft_loss_sums


@pytest.fixture(scope="module")
def model():
    return init_model(ModelConfig.preset("world-tiny"), kind="causal_lm", seed=0)


def test_loss_is_the_nll_of_masked_tokens_given_their_prefix(model):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1000, (3, 11)).astype(np.int32)
    attention = np.ones_like(ids)
    attention[2, 8:] = 0  # right padding
    loss_mask = np.zeros_like(ids)
    loss_mask[0, 5:] = 1
    loss_mask[1, [3, 7]] = 1
    loss_mask[2, 4:8] = 1
    batch = {"input_ids": ids, "attention_mask": attention, "loss_mask": loss_mask}
    sums = sft_loss_sums(chunk=4)(model, {k: jnp.asarray(v) for k, v in batch.items()})

    logp = np.asarray(jax.nn.log_softmax(model(jnp.asarray(ids), jnp.asarray(attention)), -1))
    expected = -sum(
        logp[b, t - 1, ids[b, t]] for b in range(3) for t in range(11) if loss_mask[b, t]
    )  # position t is predicted from the logits at t - 1
    np.testing.assert_allclose(float(sums["loss"]), expected, rtol=1e-5)
    np.testing.assert_array_equal(row_weights(loss_mask), [6.0, 2.0, 4.0])


def test_untrained_rows_add_nothing(model):
    ids = jnp.asarray(np.random.default_rng(1).integers(0, 1000, (2, 7)), jnp.int32)
    mask = jnp.ones_like(ids)
    loss_mask = jnp.asarray([[0, 0, 0, 1, 1, 1, 1], [0] * 7], jnp.int32)
    both = sft_loss_sums()(model, {"input_ids": ids, "attention_mask": mask, "loss_mask": loss_mask})
    first = sft_loss_sums()(
        model, {"input_ids": ids[:1], "attention_mask": mask[:1], "loss_mask": loss_mask[:1]}
    )
    np.testing.assert_allclose(float(both["loss"]), float(first["loss"]), rtol=1e-6)
