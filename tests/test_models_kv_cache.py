"""KV cache: prefill + 1-token decode steps reproduce the full forward's logits (ragged left padding)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hf_fixtures import make_llama3, make_qwen2, padded_batch

from acecoder_jax.models import from_pretrained, init_cache
from acecoder_jax.models.init import abstract_model

VOCAB = 512
PROMPT_LENGTHS = [3, 7, 1, 5]
T_PROMPT, N_NEW, MAX_LEN = 7, 6, 16


@pytest.fixture(scope="module", params=["qwen2", "llama3"])
def model(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "qwen2":
        return from_pretrained(make_qwen2(root / "m", tie=False, vocab_size=VOCAB))
    return from_pretrained(make_llama3(root / "m", vocab_size=VOCAB))


def _sequences():
    prompt, prompt_mask = padded_batch(PROMPT_LENGTHS, T_PROMPT, VOCAB, side="left", seed=3)
    new = np.random.default_rng(4).integers(3, VOCAB, (len(PROMPT_LENGTHS), N_NEW)).astype(np.int32)
    ids = np.concatenate([prompt, new], axis=1)
    mask = np.concatenate([prompt_mask, np.ones_like(new)], axis=1)
    return prompt, prompt_mask, new, ids, mask


def test_prefill_then_decode_matches_full_forward(model):
    prompt, prompt_mask, new, ids, mask = _sequences()
    full = np.asarray(model(jnp.asarray(ids), jnp.asarray(mask)))
    cache = init_cache(model.config, len(PROMPT_LENGTHS), MAX_LEN, jnp.float32)
    logits, cache = model(jnp.asarray(prompt), jnp.asarray(prompt_mask), cache=cache)
    real = prompt_mask.astype(bool)
    np.testing.assert_allclose(np.asarray(logits)[real], full[:, :T_PROMPT][real], atol=1e-4, rtol=0)

    step = nnx.jit(lambda m, tok, c: m(tok, jnp.ones_like(tok), cache=c), donate_argnums=2)
    for t in range(N_NEW):
        logits, cache = step(model, jnp.asarray(new[:, t : t + 1]), cache)
        np.testing.assert_allclose(np.asarray(logits)[:, 0], full[:, T_PROMPT + t], atol=1e-4, rtol=0)
    np.testing.assert_array_equal(np.asarray(cache.lengths), np.array(PROMPT_LENGTHS) + N_NEW)
    np.testing.assert_array_equal(np.asarray(cache.pos), np.array(PROMPT_LENGTHS) + N_NEW)
    assert int(cache.index) == T_PROMPT + N_NEW


def test_unrolled_layer_scan_prefills_and_decodes_the_same(model):
    config = model.config.replace(scan_unroll=model.config.num_layers)
    unrolled = nnx.merge(nnx.graphdef(abstract_model(config, "causal_lm")), nnx.state(model))
    prompt, prompt_mask, new, _, _ = _sequences()
    for m in (model, unrolled):
        cache = init_cache(m.config, len(PROMPT_LENGTHS), MAX_LEN, jnp.float32)
        logits, cache = m(jnp.asarray(prompt), jnp.asarray(prompt_mask), cache=cache)
        logits, cache = m(jnp.asarray(new[:, :1]), jnp.ones_like(jnp.asarray(new[:, :1])), cache=cache)
        if m is model:
            expected, expected_k = np.asarray(logits), np.asarray(cache.k)
    np.testing.assert_allclose(np.asarray(logits), expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(cache.k), expected_k, atol=1e-5, rtol=0)


def test_greedy_decode_inside_while_loop_with_donated_cache(model):
    """A sampler-shaped loop: one jitted prefill, then lax.while_loop over 1-token steps, state donated."""
    prompt, prompt_mask, _, _, _ = _sequences()
    graphdef, state = nnx.split(model)
    batch = len(PROMPT_LENGTHS)

    @jax.jit
    def prefill(state, ids, mask, cache):
        logits, cache = nnx.merge(graphdef, state)(ids, mask, cache=cache)
        return jnp.argmax(logits[:, -1], axis=-1).astype(jnp.int32), cache

    def decode(state, first, cache, out):
        def body(carry):
            i, tok, cache, out = carry
            out = out.at[:, i].set(tok)
            logits, cache = nnx.merge(graphdef, state)(
                tok[:, None], jnp.ones((batch, 1), jnp.int32), cache=cache
            )
            return i + 1, jnp.argmax(logits[:, -1], axis=-1).astype(jnp.int32), cache, out

        _, _, cache, out = jax.lax.while_loop(lambda c: c[0] < N_NEW, body, (0, first, cache, out))
        return out, cache  # returning the cache lets XLA reuse the donated buffers in place

    decode_donated = jax.jit(decode, donate_argnums=(2, 3))
    cache = init_cache(model.config, batch, MAX_LEN, jnp.float32)
    first, cache = prefill(state, jnp.asarray(prompt), jnp.asarray(prompt_mask), cache)
    generated, cache = decode_donated(state, first, cache, jnp.zeros((batch, N_NEW), jnp.int32))
    generated = np.asarray(generated)
    assert int(cache.index) == T_PROMPT + N_NEW

    # Reference: greedy decoding by re-running the full forward on the growing sequence (no cache).
    ids, mask = prompt.copy(), prompt_mask.copy()
    expected = []
    for _ in range(N_NEW):
        nxt = np.asarray(jnp.argmax(model(jnp.asarray(ids), jnp.asarray(mask))[:, -1], axis=-1)).astype(
            np.int32
        )
        expected.append(nxt)
        ids = np.concatenate([ids, nxt[:, None]], axis=1)
        mask = np.concatenate([mask, np.ones((batch, 1), np.int32)], axis=1)
    np.testing.assert_array_equal(generated, np.stack(expected, axis=1))


def test_sharded_cache_decode_matches_unsharded(model):
    """The sampler's setting: params and cache sharded on a (data, fsdp, tensor) mesh, tp > KV heads."""
    from acecoder_jax.models import param_shardings
    from acecoder_jax.sharding import MeshConfig, make_mesh

    mesh = make_mesh(MeshConfig(data=2, fsdp=1, tensor=4))  # 2 KV heads < tp 4: K/V replicated over tensor
    sharded = nnx.merge(*_placed(model, mesh, param_shardings))
    prompt, prompt_mask, new, _, _ = _sequences()
    batch = len(PROMPT_LENGTHS)

    def run(m, cache):
        logits, cache = m(jnp.asarray(prompt), jnp.asarray(prompt_mask), cache=cache)
        steps = [logits[:, -1]]
        for t in range(3):
            logits, cache = m(jnp.asarray(new[:, t : t + 1]), jnp.ones((batch, 1), jnp.int32), cache=cache)
            steps.append(logits[:, 0])
        return jnp.stack(steps, axis=1), cache

    expected, _ = nnx.jit(run)(model, init_cache(model.config, batch, MAX_LEN, jnp.float32))
    with jax.set_mesh(mesh):
        cache = init_cache(model.config, batch, MAX_LEN, jnp.float32, mesh=mesh)
        batch_split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, "data"))
        assert cache.k.sharding.is_equivalent_to(batch_split, cache.k.ndim)  # KV heads not split: 2 < tp 4
        got, cache = nnx.jit(run)(sharded, cache)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=1e-5)


def _placed(model, mesh, param_shardings):
    graphdef, state = nnx.split(model)
    return graphdef, jax.device_put(state, param_shardings(state, mesh))
