"""Chunked per-token log-probabilities equal the full forward pass's, values and gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from acecoder_jax.models import ModelConfig, init_model
from acecoder_jax.rl.logprobs import token_logprobs


@pytest.fixture(scope="module")
def model():
    return init_model(ModelConfig.preset("tiny"), kind="causal_lm", seed=0)


def _reference(model, ids, mask, temperature=1.0):
    logits = model(ids, mask) / temperature
    full = jax.nn.log_softmax(logits, -1)
    logp = jnp.take_along_axis(full[:, :-1], ids[:, 1:, None], -1)[..., 0]
    entropy = -jnp.sum(jnp.exp(full) * full, -1)[:, :-1]
    return logp, entropy


@pytest.mark.parametrize("chunk", [1, 4, 5, 64])
def test_chunked_logprobs_equal_the_full_forward(model, chunk):
    rng = np.random.default_rng(0)
    ids = jnp.asarray(rng.integers(0, model.config.vocab_size, (3, 13)), jnp.int32)
    mask = jnp.asarray(np.array([[1] * 13, [0] * 4 + [1] * 9, [1] * 10 + [0] * 3]), jnp.int32)
    logp, entropy = token_logprobs(model, ids, mask, chunk=chunk, temperature=0.7)
    ref_logp, ref_entropy = _reference(model, ids, mask, temperature=0.7)
    assert logp.shape == ids.shape and np.all(np.asarray(logp[:, 0]) == 0)
    np.testing.assert_allclose(logp[:, 1:], ref_logp, atol=2e-5)
    np.testing.assert_allclose(entropy[:, 1:], ref_entropy, atol=2e-5)


def test_gradients_equal_the_full_forward(model):
    ids = jnp.asarray(np.random.default_rng(1).integers(0, model.config.vocab_size, (2, 9)), jnp.int32)
    mask = jnp.ones_like(ids)
    graphdef, state = nnx.split(model)

    def chunked(state):
        return token_logprobs(nnx.merge(graphdef, state), ids, mask, chunk=3)[0].sum()

    def full(state):
        return _reference(nnx.merge(graphdef, state), ids, mask)[0].sum()

    ours, reference = jax.grad(chunked)(state), jax.grad(full)(state)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(reference)):
        np.testing.assert_allclose(a, b, atol=2e-5)
