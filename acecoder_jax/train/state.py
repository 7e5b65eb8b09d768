"""Train state as one pytree {step, params, opt_state, rng}, split from an NNX model once and merged back.

The NNX graph definition and non-trainable state stay outside jit (static); only this pytree flows through the
jitted step, donated, with the shardings the parameters were created with (optimizer moments inherit them).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

TrainState = dict[str, Any]


def split_model(model: nnx.Module) -> tuple[nnx.GraphDef, nnx.State, nnx.State]:
    """(graphdef, trainable params, everything else) of an NNX model."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    return graphdef, params, rest


def merge_model(graphdef: nnx.GraphDef, params: nnx.State, rest: nnx.State) -> nnx.Module:
    """Rebuild the NNX model from `split_model`'s parts."""
    return nnx.merge(graphdef, params, rest)


def init_train_state(params: nnx.State, tx: optax.GradientTransformation, seed: int) -> TrainState:
    """Fresh state: step 0, optimizer state laid out like the (already sharded) params, an RNG key."""

    @jax.jit
    def init(params: nnx.State) -> TrainState:
        return {
            "step": jnp.zeros((), jnp.int32),
            "params": params,
            "opt_state": tx.init(params),
            "rng": jax.random.key_data(jax.random.key(seed)),
        }

    return init(params)


def shardings_of(tree: Any) -> Any:
    """The sharding of every array leaf."""
    return jax.tree.map(lambda x: x.sharding, tree)


def abstract_of(tree: Any) -> Any:
    """ShapeDtypeStructs carrying each leaf's sharding (the target of a checkpoint restore)."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


def free(tree: Any) -> None:
    """Release the device buffers of a state that is about to be replaced (halves peak memory on restore)."""
    for leaf in jax.tree.leaves(tree):
        if isinstance(leaf, jax.Array) and not leaf.is_deleted():
            leaf.delete()


def param_signature(params: nnx.State) -> dict[str, list[Any]]:
    """path -> [shape, dtype] of every parameter: what a checkpoint must match to be restored into this
    model."""
    out = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        out[jax.tree_util.keystr(path)] = [list(leaf.shape), str(leaf.dtype)]
    return out
