# ruff: noqa: F722  (jaxtyping shape strings such as "B T D" are not forward references)
"""Hand-written backward passes for the SwiGLU MLP and the attention core, used on the CPU backend.

Autodiff's backward of `einsum("BTD,DF->BTF")` asks for the weight gradient as a dot whose operands have the
token axis minor; XLA:CPU's layout assignment then makes the fusion that produces the SwiGLU (or softmax)
cotangent write it transposed, a strided write that costs more than the dot it feeds (profile in
docs/sft.md). These backward passes compute the same gradients with the token axis flattened and the
transposes spelled out (an optimization barrier keeps XLA from folding the transpose back into the
producer). On the world-tiny SFT step (bench/sft_step.py, 32 x 224 tokens, 2 cores) the step goes from
~1,040 to ~650 ms. Other backends keep autodiff: nothing here was measured on GPU or TPU.

Forward values are computed exactly as the autodiff path computes them (same ops, same dtypes); gradients
agree with autodiff to float rounding (tests/test_models_cpu_backward.py).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from acecoder_jax.sharding import constrain

MASK_VALUE = -0.7 * float(jnp.finfo(jnp.float32).max)  # finite: fully padded query rows give no NaN


def hand_written_backward() -> bool:
    """Whether the decoder uses this module's backward passes: on the CPU backend only."""
    return jax.default_backend() == "cpu"


# ---------------------------------------------------------------------------------------------- SwiGLU
def swiglu_forward(x: Float[Array, "B T D"], gate: Array, up: Array, down: Array) -> Float[Array, "B T D"]:
    """down(silu(x @ gate) * (x @ up)), the MLP's forward (the activation constrained to the mlp axis)."""
    return _swiglu_fwd(x, gate, up, down)[0]


def _swiglu_hidden(g: Array, u: Array) -> Array:
    return constrain(jax.nn.silu(g) * u, ("act_batch", "act_len", "act_mlp"))


@jax.custom_vjp
def swiglu(x: Float[Array, "B T D"], gate: Array, up: Array, down: Array) -> Float[Array, "B T D"]:
    """swiglu_forward with a backward pass that runs its weight-gradient dots on [tokens, width] operands."""
    return _swiglu_fwd(x, gate, up, down)[0]


def _swiglu_fwd(x, gate, up, down):
    g = jnp.einsum("BTD,DF->BTF", x, gate)
    u = jnp.einsum("BTD,DF->BTF", x, up)
    y = jnp.einsum("BTF,FD->BTD", _swiglu_hidden(g, u), down)
    return y, (x, gate, up, down, g, u)


def _swiglu_bwd(residuals, dy):
    x, gate, up, down, g, u = residuals
    b, t, d = x.shape
    tokens = b * t
    g2, u2 = g.reshape(tokens, -1), u.reshape(tokens, -1)
    dy2 = dy.reshape(tokens, d)
    sig = jax.nn.sigmoid(g2)
    silu = g2 * sig
    dh = dy2 @ down.T
    du = dh * silu
    dg = dh * u2 * (sig * (1 + g2 * (1 - sig)))
    dx = du @ up.T + dg @ gate.T
    x_t = jax.lax.optimization_barrier(x.reshape(tokens, d).T)
    h_t = (silu * u2).T
    grads = (x_t @ dg, x_t @ du, h_t @ dy2)
    return (
        dx.reshape(b, t, d).astype(x.dtype),
        *(w.astype(p.dtype) for w, p in zip(grads, (gate, up, down))),
    )


swiglu.defvjp(_swiglu_fwd, _swiglu_bwd)


# ---------------------------------------------------------------------------------------------- attention
def attention_probs(q: Array, keys: Array, allowed: Bool[Array, "B T S"], scale: float) -> Array:
    """Softmax attention weights [B, K, G, T, S] in float32 for q [B, T, K, G, H] and keys [B, S, K, H]."""
    scores = jnp.einsum("BTKGH,BSKH->BKGTS", q, keys, preferred_element_type=jnp.float32) * scale
    scores = jnp.where(allowed[:, None, None, :, :], scores, MASK_VALUE)
    return jax.nn.softmax(scores, axis=-1)


def attention_forward(q: Array, keys: Array, values: Array, allowed: Array, scale: float) -> Array:
    """softmax(q k^T * scale, masked) v: [B, T, K, G, H]; probabilities in q's dtype for the PV dot."""
    probs = attention_probs(q, keys, allowed, scale).astype(q.dtype)
    return jnp.einsum("BKGTS,BSKH->BTKGH", probs, values)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def attention(q: Array, keys: Array, values: Array, allowed: Array, scale: float) -> Array:
    """attention_forward with a hand-written backward pass (the probabilities are kept from the forward).

    Inside, queries, keys and values are laid out heads-major ([B, K, G, T, H], [B, K, S, H]), so every dot
    of the forward and backward pass is a plain batched matrix product."""
    return _attention_heads_major(q, keys, values, allowed, scale)[0]


def _heads_major(q: Array, keys: Array, values: Array) -> tuple[Array, Array, Array]:
    return q.transpose(0, 2, 3, 1, 4), keys.transpose(0, 2, 1, 3), values.transpose(0, 2, 1, 3)


def _attention_heads_major(q, keys, values, allowed, scale):
    qh, kh, vh = _heads_major(q, keys, values)
    scores = jnp.einsum("BKGTH,BKSH->BKGTS", qh, kh, preferred_element_type=jnp.float32) * scale
    probs = jax.nn.softmax(jnp.where(allowed[:, None, None, :, :], scores, MASK_VALUE), axis=-1)
    out = jnp.einsum("BKGTS,BKSH->BKGTH", probs.astype(q.dtype), vh)
    return out.transpose(0, 3, 1, 2, 4), (qh, kh, vh, probs, allowed)


def _attention_fwd(q, keys, values, allowed, scale):
    return _attention_heads_major(q, keys, values, allowed, scale)


def _attention_bwd(scale, residuals, d_out):
    qh, kh, vh, probs, allowed = residuals
    d_out = d_out.transpose(0, 2, 3, 1, 4)
    probs, d_out = jax.lax.optimization_barrier((probs, d_out))
    d_values = jnp.einsum("BKGTS,BKGTH->BKSH", probs.astype(qh.dtype), d_out)
    d_probs = jnp.einsum("BKGTH,BKSH->BKGTS", d_out, vh, preferred_element_type=jnp.float32)
    d_scores = probs * (d_probs - jnp.sum(d_probs * probs, axis=-1, keepdims=True)) * scale
    # Masked scores are constants (autodiff sends them no gradient), also in a query row with no allowed key.
    d_scores = jnp.where(allowed[:, None, None, :, :], d_scores, 0.0)
    d_scores = jax.lax.optimization_barrier(d_scores.astype(qh.dtype))
    d_q = jnp.einsum("BKGTS,BKSH->BKGTH", d_scores, kh).transpose(0, 3, 1, 2, 4)
    d_keys = jnp.einsum("BKGTS,BKGTH->BKSH", d_scores, qh).transpose(0, 2, 1, 3)
    return d_q, d_keys, d_values.transpose(0, 2, 1, 3), None


attention.defvjp(_attention_fwd, _attention_bwd)
