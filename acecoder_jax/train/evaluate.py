"""Evaluation over a finite set of host batches: the eval step's sums added up on the host (float64)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import jax
import numpy as np
from flax import nnx

from acecoder_jax.train.step import EvalStepFn


def eval_sums(
    eval_step: EvalStepFn,
    params: nnx.State,
    rest: nnx.State,
    batches: Iterable[Mapping[str, np.ndarray]],
    put_batch: Callable[[Mapping[str, np.ndarray]], dict[str, jax.Array]],
) -> dict[str, float]:
    """Every key of `eval_step`'s output summed over `batches` (this process's rows of each)."""
    sums: dict[str, float] = {}
    for local in batches:
        out = jax.device_get(eval_step(params, rest, put_batch(local)))
        for key, value in out.items():
            sums[key] = sums.get(key, 0.0) + float(value)
    return sums


def eval_means(
    sums: Mapping[str, float],
    keys: Iterable[str],
    *,
    weight_key: str = "weight",
    metric_weights: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """`keys` of `sums` divided by the summed weight (or by the field metric_weights names for them)."""
    metric_weights = metric_weights or {}
    return {k: sums[k] / sums[metric_weights.get(k, weight_key)] for k in keys}
