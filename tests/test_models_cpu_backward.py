"""The CPU backend's hand-written backward passes (acecoder_jax/models/cpu_backward.py) give autodiff's
gradients, and the whole decoder's gradients equal PyTorch's."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx
from hf_fixtures import make_llama3, make_qwen2, padded_batch
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM

from acecoder_jax.models import cpu_backward, from_pretrained, save_pretrained

VOCAB = 512


def _attention_inputs(dtype):
    b, t, k, g, h = 3, 7, 2, 2, 8
    keys = jax.random.split(jax.random.key(0), 3)
    q = jax.random.normal(keys[0], (b, t, k, g, h), jnp.float32).astype(dtype)
    kv = [jax.random.normal(key, (b, t, k, h), jnp.float32).astype(dtype) for key in keys[1:]]
    lengths = jnp.array([7, 4, 0])  # a full row, a padded row, a row with no real key at all
    key_mask = jnp.arange(t)[None, :] < lengths[:, None]
    allowed = key_mask[:, None, :] & (jnp.arange(t)[None, None, :] <= jnp.arange(t)[None, :, None])
    return (q, *kv), allowed


def _swiglu_inputs(dtype):
    keys = jax.random.split(jax.random.key(1), 4)
    shapes = [(2, 5, 16), (16, 24), (16, 24), (24, 16)]
    return tuple(jax.random.normal(k, s, jnp.float32).astype(dtype) for k, s in zip(keys, shapes))


def _grads(fn, args):
    weights = jax.random.normal(jax.random.key(9), jax.eval_shape(fn, *args).shape, jnp.float32)
    return jax.jit(jax.grad(lambda *a: jnp.sum(fn(*a).astype(jnp.float32) * weights), argnums=(0, 1, 2)))(
        *args
    )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["f32", "bf16"])
def test_attention_backward_equals_autodiff(dtype):
    args, allowed = _attention_inputs(dtype)
    scale = 0.35
    out_hand = cpu_backward.attention(*args, allowed, scale)
    out_auto = cpu_backward.attention_forward(*args, allowed, scale)
    np.testing.assert_array_equal(np.asarray(out_hand, np.float32), np.asarray(out_auto, np.float32))
    hand = _grads(lambda q, k, v: cpu_backward.attention(q, k, v, allowed, scale), args)
    auto = _grads(lambda q, k, v: cpu_backward.attention_forward(q, k, v, allowed, scale), args)
    tol = 1e-5 if dtype == jnp.float32 else 2e-2
    for a, h, x in zip(auto, hand, args):
        assert h.dtype == x.dtype and h.shape == x.shape
        a, h = np.asarray(a, np.float32), np.asarray(h, np.float32)
        assert np.abs(a).max() > 0
        np.testing.assert_allclose(h, a, atol=tol * np.abs(a).max(), rtol=tol)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["f32", "bf16"])
def test_swiglu_backward_equals_autodiff(dtype):
    args = _swiglu_inputs(dtype)
    np.testing.assert_array_equal(
        np.asarray(cpu_backward.swiglu(*args), np.float32),
        np.asarray(cpu_backward.swiglu_forward(*args), np.float32),
    )
    hand = jax.jit(
        jax.grad(lambda *a: jnp.sum(cpu_backward.swiglu(*a).astype(jnp.float32) ** 2), argnums=(0, 1, 2, 3))
    )(*args)
    auto = jax.jit(
        jax.grad(
            lambda *a: jnp.sum(cpu_backward.swiglu_forward(*a).astype(jnp.float32) ** 2), argnums=(0, 1, 2, 3)
        )
    )(*args)
    tol = 1e-5 if dtype == jnp.float32 else 2e-2
    for a, h, x in zip(auto, hand, args):
        assert h.dtype == x.dtype and h.shape == x.shape
        a, h = np.asarray(a, np.float32), np.asarray(h, np.float32)
        np.testing.assert_allclose(h, a, atol=tol * np.abs(a).max(), rtol=tol)


def _token_loss_torch(path, ids, mask):
    """Summed next-token cross-entropy over real tokens, and every parameter's gradient, in PyTorch."""
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).train()
    ids_t, mask_t = torch.from_numpy(ids).long(), torch.from_numpy(mask).long()
    logits = model(input_ids=ids_t, attention_mask=mask_t).logits
    targets = ids_t[:, 1:]
    weight = (mask_t[:, 1:] * mask_t[:, :-1]).float()
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), targets, reduction="none")
    loss = (nll * weight).sum()
    loss.backward()
    return float(loss.detach()), {name: p.grad.numpy() for name, p in model.named_parameters()}


def _token_loss_jax(path, ids, mask, tmp_path):
    """The same loss and gradients from acecoder_jax; the gradients are saved in HF layout, by name."""
    model = from_pretrained(path)
    ids_j, mask_j = jnp.asarray(ids), jnp.asarray(mask)

    def loss(m):
        logits = m(ids_j, mask_j)
        logp = jax.nn.log_softmax(logits[:, :-1], axis=-1)
        nll = -jnp.take_along_axis(logp, ids_j[:, 1:, None], axis=-1)[..., 0]
        return jnp.sum(nll * (mask_j[:, 1:] * mask_j[:, :-1]))

    value, grads = nnx.jit(nnx.value_and_grad(loss))(model)
    nnx.update(model, grads)
    out = save_pretrained(model, tmp_path / "grads")
    return float(value), load_file(str(out / "model.safetensors"))


@pytest.mark.parametrize("make", [make_qwen2, make_llama3], ids=["qwen2", "llama3"])
def test_decoder_gradients_equal_pytorch(make, tmp_path):
    assert cpu_backward.hand_written_backward()  # the tests run on the CPU backend: the hand-written path
    path = make(tmp_path / "model", vocab_size=VOCAB)
    ids, mask = padded_batch([11, 6, 1, 9], 11, VOCAB, side="right")
    loss_torch, grads_torch = _token_loss_torch(path, ids, mask)
    loss_jax, grads_jax = _token_loss_jax(path, ids, mask, tmp_path)
    np.testing.assert_allclose(loss_jax, loss_torch, rtol=1e-5)
    assert set(grads_jax) <= set(grads_torch)
    assert any("mlp.gate_proj" in name for name in grads_jax) and any(
        "self_attn.k_proj" in name for name in grads_jax
    )
    for name, grad in grads_jax.items():
        reference = grads_torch[name]
        np.testing.assert_allclose(grad, reference, atol=1e-4 * np.abs(reference).max() + 1e-7, err_msg=name)
