"""The jitted train and eval steps every trainer shares; a trainer supplies only its loss SUMS.

    make_train_step(graphdef, tx, schedule, loss_sums_fn, *, mesh, state_shardings, rest_shardings,
                    batch_shardings, micro_batches, weight_key="weight", metric_weights=None, extrema=None)
        -> jit((state, rest, batch) -> (new_state, metrics))
    make_eval_step(graphdef, loss_sums_fn, *, mesh, param_shardings, rest_shardings, batch_shardings,
                   weight_key="weight", metric_weights=None)
        -> jit((params, rest, batch) -> sums, plus the summed weight under weight_key)

`batch` is a dict of global arrays with a leading batch dim. `batch[weight_key]` is a float [B] row weight
whose GLOBAL sum normalises the loss (RM: 1 per real pair; SFT: loss tokens per row; RL: valid tokens per row
for a token mean, 1 per row for a sequence mean). `loss_sums_fn(model, micro_batch)` returns float32 scalar
sums over the micro-batch: "loss" (the weighted loss, summed) and any metric sums.

The global batch is cut into `micro_batches` interleaved micro-batches (row i -> micro-batch i mod k, so every
device keeps an equal share of each) and a `lax.scan` accumulates float32 gradients of
sum(loss) / total weight, so one update sees the same gradient whatever the micro-batching or mesh. The
gradient is cast to the parameter dtype, clipped and applied by `tx`; the state is donated.

Metrics: every sum divided by the total weight, except keys in `metric_weights` (metric -> batch field whose
global sum normalises it, e.g. {"clip_frac": "token_weight"}) and keys in `extrema` (metric -> "min" | "max":
reduced across micro-batches, not normalised); plus "grad_norm" (before clipping) and "lr".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from acecoder_jax.sharding import constrain
from acecoder_jax.train.batch import BatchShardings
from acecoder_jax.train.state import TrainState

Batch = dict[str, jax.Array]
LossSumsFn = Callable[[nnx.Module, dict[str, jax.Array]], dict[str, jax.Array]]
TrainStepFn = Callable[[TrainState, nnx.State, Batch], tuple[TrainState, dict[str, jax.Array]]]
EvalStepFn = Callable[[nnx.State, nnx.State, Batch], dict[str, jax.Array]]

_EXTREMA = {"min": (jnp.minimum, jnp.inf), "max": (jnp.maximum, -jnp.inf)}


def micro_split(x: jax.Array, k: int) -> jax.Array:
    """[B, ...] -> [k, B/k, ...] with row i in micro-batch i mod k."""
    b = x.shape[0]
    return jnp.swapaxes(x.reshape((b // k, k, *x.shape[1:])), 0, 1)


def _check_extrema(extrema: Mapping[str, str]) -> None:
    for key, how in extrema.items():
        if how not in _EXTREMA:
            raise ValueError(f"extrema[{key!r}] = {how!r}: expected 'min' or 'max'")


def _combine(extrema: Mapping[str, str]) -> Callable[[dict, dict], dict]:
    """Add sums; take min/max of extrema."""

    def combine(acc: dict, new: dict) -> dict:
        return {k: _EXTREMA[extrema[k]][0](acc[k], v) if k in extrema else acc[k] + v for k, v in new.items()}

    return combine


def _normalise(
    sums: dict[str, jax.Array],
    batch: Batch,
    total_weight: jax.Array,
    metric_weights: Mapping[str, str],
    extrema: Mapping[str, str],
) -> dict[str, jax.Array]:
    out = {}
    for key, value in sums.items():
        if key in extrema:
            out[key] = value
        elif key in metric_weights:
            out[key] = value / jnp.sum(batch[metric_weights[key]].astype(jnp.float32))
        else:
            out[key] = value / total_weight
    return out


def make_train_step(
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    schedule: optax.Schedule,
    loss_sums_fn: LossSumsFn,
    *,
    mesh: Mesh,
    state_shardings: Any,
    rest_shardings: Any,
    batch_shardings: BatchShardings,
    micro_batches: int,
    weight_key: str = "weight",
    metric_weights: Mapping[str, str] | None = None,
    extrema: Mapping[str, str] | None = None,
) -> TrainStepFn:
    """jit((state, rest, batch) -> (new state, metrics)) with the state donated and kept on its shardings."""
    metric_weights = dict(metric_weights or {})
    extrema = dict(extrema or {})
    _check_extrema(extrema)
    param_shardings = state_shardings["params"]
    combine = _combine(extrema)

    def step(state: TrainState, rest: nnx.State, batch: Batch) -> tuple[TrainState, dict]:
        total_weight = jnp.sum(batch[weight_key])

        def loss_fn(params: nnx.State, mb: Batch) -> tuple[jax.Array, dict]:
            sums = loss_sums_fn(nnx.merge(graphdef, params, rest), mb)
            return sums["loss"] / total_weight, sums

        grad_fn = jax.grad(loss_fn, has_aux=True)

        def accumulate(carry: tuple, mb: Batch) -> tuple[tuple, None]:
            grads_acc, sums_acc = carry
            mb = {k: constrain(v, ("act_batch",) + (None,) * (v.ndim - 1)) for k, v in mb.items()}
            grads, sums = grad_fn(state["params"], mb)
            grads_acc = jax.tree.map(jnp.add, grads_acc, grads)
            grads_acc = jax.lax.with_sharding_constraint(grads_acc, param_shardings)
            return (grads_acc, combine(sums_acc, sums)), None

        if micro_batches == 1:  # no accumulator: saves a zero-fill and an add over every parameter
            grads, sums = grad_fn(state["params"], batch)
        else:
            micro = {k: micro_split(v, micro_batches) for k, v in batch.items()}
            first = jax.tree.map(lambda x: x[0], micro)
            _, sums_shape = jax.eval_shape(grad_fn, state["params"], first)
            zeros = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), state["params"])
            start = {
                k: jnp.full(s.shape, _EXTREMA[extrema[k]][1], s.dtype)
                if k in extrema
                else jnp.zeros(s.shape, s.dtype)
                for k, s in sums_shape.items()
            }
            (grads, sums), _ = jax.lax.scan(accumulate, (zeros, start), micro)
        grads = jax.tree.map(lambda g, p: g.astype(p.dtype), grads, state["params"])
        grad_norm = optax.tree.norm(grads)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics = _normalise(sums, batch, total_weight, metric_weights, extrema)
        metrics |= {"grad_norm": grad_norm, "lr": schedule(state["step"])}
        key = jax.random.fold_in(jax.random.wrap_key_data(state["rng"]), state["step"])
        new_state = {
            "step": state["step"] + 1,
            "params": params,
            "opt_state": opt_state,
            "rng": jax.random.key_data(key),
        }
        return new_state, metrics

    replicated = NamedSharding(mesh, PartitionSpec())
    return jax.jit(
        step,
        in_shardings=(state_shardings, rest_shardings, batch_shardings),
        out_shardings=(state_shardings, replicated),
        donate_argnums=(0,),
    )


def make_eval_step(
    graphdef: nnx.GraphDef,
    loss_sums_fn: LossSumsFn,
    *,
    mesh: Mesh,
    param_shardings: Any,
    rest_shardings: Any,
    batch_shardings: BatchShardings,
    weight_key: str = "weight",
    metric_weights: Mapping[str, str] | None = None,
) -> EvalStepFn:
    """jit((params, rest, batch) -> loss/metric sums + the summed `weight_key` and `metric_weights` fields).

    No gradients. `train.evaluate.eval_sums` adds the outputs over eval batches on the host.
    """
    fields = (weight_key, *dict(metric_weights or {}).values())

    def step(params: nnx.State, rest: nnx.State, batch: Batch) -> dict[str, jax.Array]:
        sums = loss_sums_fn(nnx.merge(graphdef, params, rest), batch)
        return sums | {f: jnp.sum(batch[f]) for f in fields}

    replicated = NamedSharding(mesh, PartitionSpec())
    return jax.jit(
        step, in_shardings=(param_shardings, rest_shardings, batch_shardings), out_shardings=replicated
    )
