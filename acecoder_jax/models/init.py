"""Create models with their parameters born sharded on the mesh (never whole on one device)."""

from __future__ import annotations

from typing import Literal

import jax
from flax import nnx
from jax.sharding import Mesh

from acecoder_jax.models.config import ModelConfig
from acecoder_jax.models.params import param_shardings
from acecoder_jax.models.reward import RewardModel
from acecoder_jax.models.transformer import CausalLM

Kind = Literal["causal_lm", "reward"]


def build(config: ModelConfig, kind: Kind, rngs: nnx.Rngs) -> CausalLM | RewardModel:
    """Construct (eagerly) a CausalLM or RewardModel."""
    if kind == "causal_lm":
        return CausalLM(config, rngs=rngs)
    if kind == "reward":
        return RewardModel(config, rngs=rngs)
    raise ValueError(f"unknown model kind {kind!r}: expected 'causal_lm' or 'reward'")


def abstract_model(config: ModelConfig, kind: Kind = "causal_lm") -> CausalLM | RewardModel:
    """The model with ShapeDtypeStruct parameters: shapes and metadata, no memory."""
    return nnx.eval_shape(lambda: build(config, kind, nnx.Rngs(0)))


def init_model(
    config: ModelConfig, *, kind: Kind = "causal_lm", seed: int = 0, mesh: Mesh | None = None
) -> CausalLM | RewardModel:
    """A randomly initialised model; with `mesh`, each parameter is created directly in its sharded layout."""
    if mesh is None:
        return build(config, kind, nnx.Rngs(seed))
    graphdef, abstract_state = nnx.split(abstract_model(config, kind))
    shardings = param_shardings(abstract_state, mesh)

    # Under jit with out_shardings each device computes only its own shard of every parameter.
    state = jax.jit(lambda: nnx.state(build(config, kind, nnx.Rngs(seed))), out_shardings=shardings)()
    return nnx.merge(graphdef, state)
