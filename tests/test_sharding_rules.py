"""`with sharding.rules(...)`: another logical->mesh layout inside a block, the default table untouched."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from jax.sharding import PartitionSpec as P

from acecoder_jax.models import ModelConfig, init_model
from acecoder_jax.sharding import (
    LOGICAL_RULES,
    MeshConfig,
    constrain,
    current_rules,
    logical_to_spec,
    make_mesh,
    rules,
)
from acecoder_jax.train.batch import batch_axis_size

TINY = ModelConfig.tiny().replace(vocab_size=512)


def _embed_spec(model) -> P:
    return model.model.embed_tokens.embedding[...].sharding.spec


def test_default_table_outside_and_the_given_layout_inside_nested_blocks():
    assert current_rules() is LOGICAL_RULES
    assert logical_to_spec(("act_batch", "embed")) == P(("data", "fsdp"), None)
    with rules(act_batch="data", embed="fsdp"):
        assert logical_to_spec(("act_batch", "embed")) == P("data", "fsdp")
        with rules(embed=None):  # overrides apply on top of the table in effect
            assert logical_to_spec(("act_batch", "embed")) == P("data", None)
        assert logical_to_spec(("act_batch", "embed")) == P("data", "fsdp")
        with rules(LOGICAL_RULES):  # a whole table
            assert logical_to_spec(("act_batch",)) == P(("data", "fsdp"))
    assert current_rules() is LOGICAL_RULES and LOGICAL_RULES["act_batch"] == ("data", "fsdp")


def test_unknown_names_are_refused():
    with pytest.raises(KeyError, match="rules override 'emb': not a logical axis name"), rules(emb=None):
        pass


def test_parameters_activations_and_the_batch_axis_follow_the_block_in_effect():
    mesh = make_mesh(MeshConfig(data=2, fsdp=2, tensor=2))
    with jax.set_mesh(mesh):
        trained = init_model(TINY, kind="causal_lm", seed=0, mesh=mesh)
        with rules(vocab=None, embed=None):  # e.g. a replicated rollout copy of the weights
            rollout = init_model(TINY, kind="causal_lm", seed=0, mesh=mesh)
    assert _embed_spec(trained) == P("tensor", "fsdp") and _embed_spec(rollout) == P(None, None)
    assert batch_axis_size(mesh) == 4
    with rules(act_batch=("data", "fsdp", "tensor")):
        assert batch_axis_size(mesh) == 8
        with jax.set_mesh(mesh):
            out = jax.jit(lambda x: constrain(x * 2, ("act_batch", "act_embed")))(jnp.ones((8, 4)))
    assert out.sharding.spec[0] == ("data", "fsdp", "tensor")
