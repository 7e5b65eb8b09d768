"""The jitted reward-model train and eval steps.

Chosen and rejected sequences are scored in ONE forward (concatenated along the batch). A global batch is cut
into `micro_batches` interleaved micro-batches (row i goes to micro-batch i mod k, so every device keeps an
equal
share of each) and a `lax.scan` accumulates float32 gradients of the exactly normalised global loss, so one
optimizer update sees the same gradient whatever the micro-batching or mesh. The state is donated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from acecoder_jax.rm.loss import METRIC_SUMS, bradley_terry_sums
from acecoder_jax.sharding import constrain, logical_to_spec
from acecoder_jax.train.state import TrainState

BATCH_KEYS = ("chosen_ids", "chosen_mask", "rejected_ids", "rejected_mask", "weight")


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) dim split over the data-parallel axes, the rest replicated."""
    return NamedSharding(mesh, PartitionSpec(*logical_to_spec(("act_batch",))))


def to_global(mesh: Mesh, local: dict[str, Any]) -> dict[str, jax.Array]:
    """This process's rows of a batch -> global arrays on the mesh (works single- and multi-host)."""
    sharding = batch_sharding(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, local[k]) for k in BATCH_KEYS}


def score_pairs(
    graphdef: nnx.GraphDef, params: nnx.State, rest: nnx.State, batch: dict[str, jax.Array]
) -> tuple[jax.Array, jax.Array]:
    """(r_chosen, r_rejected) float32 [B] from one forward over the concatenated [2B, T] batch."""
    model = nnx.merge(graphdef, params, rest)
    n = batch["chosen_ids"].shape[0]
    ids = jnp.concatenate([batch["chosen_ids"], batch["rejected_ids"]], axis=0)
    mask = jnp.concatenate([batch["chosen_mask"], batch["rejected_mask"]], axis=0)
    ids = constrain(ids, ("act_batch", "act_len"))
    mask = constrain(mask, ("act_batch", "act_len"))
    rewards = model(ids, mask)
    return rewards[:n], rewards[n:]


def _micro_split(x: jax.Array, k: int) -> jax.Array:
    """[B, ...] -> [k, B/k, ...] with row i in micro-batch i mod k."""
    b = x.shape[0]
    return jnp.swapaxes(x.reshape((b // k, k, *x.shape[1:])), 0, 1)


def make_train_step(
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    schedule: optax.Schedule,
    *,
    mesh: Mesh,
    state_shardings: Any,
    rest_shardings: Any,
    micro_batches: int,
    margin: float,
    center_rewards_coef: float,
) -> Callable[[TrainState, nnx.State, dict[str, jax.Array]], tuple[TrainState, dict[str, jax.Array]]]:
    """jit((state, rest, batch) -> (new state, metrics)) with the state donated and kept on its shardings."""
    param_shardings = state_shardings["params"]

    def step(state: TrainState, rest: nnx.State, batch: dict[str, jax.Array]) -> tuple[TrainState, dict]:
        total_weight = jnp.sum(batch["weight"])

        def loss_fn(params: nnx.State, mb: dict[str, jax.Array]) -> tuple[jax.Array, dict]:
            r_chosen, r_rejected = score_pairs(graphdef, params, rest, mb)
            sums = bradley_terry_sums(
                r_chosen, r_rejected, mb["weight"], margin=margin, center_rewards_coef=center_rewards_coef
            )
            return sums["loss"] / total_weight, sums

        grad_fn = jax.grad(loss_fn, has_aux=True)

        def accumulate(carry: tuple, mb: dict[str, jax.Array]) -> tuple[tuple, None]:
            grads_acc, sums_acc = carry
            mb = {k: constrain(v, ("act_batch",) + (None,) * (v.ndim - 1)) for k, v in mb.items()}
            grads, sums = grad_fn(state["params"], mb)
            grads_acc = jax.tree.map(jnp.add, grads_acc, grads)
            grads_acc = jax.lax.with_sharding_constraint(grads_acc, param_shardings)
            return (grads_acc, jax.tree.map(jnp.add, sums_acc, sums)), None

        if micro_batches == 1:  # no accumulator: saves a zero-fill and an add over every parameter
            grads, sums = grad_fn(state["params"], batch)
        else:
            zeros = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), state["params"])
            zero_sums = {k: jnp.zeros((), jnp.float32) for k in METRIC_SUMS}
            micro = {k: _micro_split(v, micro_batches) for k, v in batch.items()}
            (grads, sums), _ = jax.lax.scan(accumulate, (zeros, zero_sums), micro)
        grads = jax.tree.map(lambda g, p: g.astype(p.dtype), grads, state["params"])
        grad_norm = optax.tree.norm(grads)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics = {k: v / total_weight for k, v in sums.items()}
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
        in_shardings=(state_shardings, rest_shardings, batch_sharding(mesh)),
        out_shardings=(state_shardings, replicated),
        donate_argnums=(0,),
    )


def make_eval_step(
    graphdef: nnx.GraphDef,
    *,
    mesh: Mesh,
    param_shardings: Any,
    rest_shardings: Any,
    margin: float,
    center_rewards_coef: float,
) -> Callable[[nnx.State, nnx.State, dict[str, jax.Array]], dict[str, jax.Array]]:
    """jit((params, rest, batch) -> weighted metric sums + total weight); no gradients."""

    def step(params: nnx.State, rest: nnx.State, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
        r_chosen, r_rejected = score_pairs(graphdef, params, rest, batch)
        sums = bradley_terry_sums(
            r_chosen, r_rejected, batch["weight"], margin=margin, center_rewards_coef=center_rewards_coef
        )
        return sums | {"weight": jnp.sum(batch["weight"])}

    replicated = NamedSharding(mesh, PartitionSpec())
    return jax.jit(
        step, in_shardings=(param_shardings, rest_shardings, batch_sharding(mesh)), out_shardings=replicated
    )
