"""AdamW with linear warmup + cosine decay and global-norm clipping (the HF Trainer / LLaMA-Factory
recipe)."""

from __future__ import annotations

import math
from typing import Any

import jax
import optax


def warmup_cosine(lr: float, total_steps: int, warmup_ratio: float, min_ratio: float = 0.0) -> optax.Schedule:
    """0 -> lr linearly over ceil(warmup_ratio * total) steps, then cosine down to min_ratio * lr at
    `total_steps` (0: the HF Trainer's cosine; 0.1: OpenRLHF's cosine_with_min_lr)."""
    warmup = math.ceil(warmup_ratio * total_steps)
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=lr,
        warmup_steps=warmup,
        decay_steps=max(total_steps, warmup + 1),
        end_value=lr * min_ratio,
    )


def decay_mask(params: object) -> object:
    """Weight decay on matrices only: biases and norm scales are not decayed (as HF Trainer)."""
    return jax.tree.map(lambda p: getattr(p, "ndim", 0) >= 2, params)


def adamw(
    schedule: optax.Schedule,
    *,
    weight_decay: float = 0.0,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    grad_clip: float | None = 1.0,
) -> optax.GradientTransformation:
    """Clip by global norm (when `grad_clip` > 0), then AdamW with `schedule`."""
    parts = []
    if grad_clip:
        parts.append(optax.clip_by_global_norm(grad_clip))
    parts.append(optax.adamw(schedule, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay, mask=decay_mask))
    return optax.chain(*parts)


def adamw_for(train: Any, schedule: optax.Schedule) -> optax.GradientTransformation:
    """`adamw` from a trainer config's train section (weight_decay, adam_b1/b2/eps, grad_clip)."""
    return adamw(
        schedule,
        weight_decay=train.weight_decay,
        b1=train.adam_b1,
        b2=train.adam_b2,
        eps=train.adam_eps,
        grad_clip=train.grad_clip,
    )
