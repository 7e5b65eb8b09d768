"""The (data, fsdp, tensor) mesh, the logical rules table, and parameters placed on 8 devices by the rules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hf_fixtures import make_qwen2, padded_batch
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from acecoder_jax.models import ModelConfig, flat_params, from_pretrained, init_model, param_shardings
from acecoder_jax.models.init import abstract_model
from acecoder_jax.sharding import (
    MeshConfig,
    ShardingError,
    constrain,
    logical_to_spec,
    make_mesh,
    named_sharding,
)
from acecoder_jax.train.batch import put_batch

TINY = ModelConfig.tiny().replace(vocab_size=512)  # 4 heads, 2 KV heads, hidden 64


def test_mesh_fills_the_free_axis_and_uses_auto_axes():
    mesh = make_mesh(MeshConfig(data=2, fsdp=-1, tensor=2))
    assert dict(mesh.shape) == {"data": 2, "fsdp": 2, "tensor": 2}
    assert all(t == jax.sharding.AxisType.Auto for t in mesh.axis_types)
    assert dict(make_mesh(MeshConfig()).shape) == {"data": 1, "fsdp": 8, "tensor": 1}


def test_mesh_that_does_not_match_the_devices_is_a_clear_error():
    with pytest.raises(ShardingError, match=r"data\*fsdp\*tensor = 2\*2\*3 = 12 but there are 8 devices"):
        make_mesh(MeshConfig(data=2, fsdp=2, tensor=3))
    with pytest.raises(ShardingError, match="not divisible"):
        make_mesh(MeshConfig(data=3, fsdp=-1))
    with pytest.raises(ShardingError, match="at most one axis"):
        make_mesh(MeshConfig(data=-1, fsdp=-1))


def test_logical_rules_map_to_partition_specs():
    assert logical_to_spec(("act_batch", "act_len", "act_embed")) == P(("data", "fsdp"), None, None)
    assert logical_to_spec(("embed", "mlp")) == P("fsdp", "tensor")
    assert logical_to_spec(("vocab", "embed")) == P("tensor", "fsdp")
    assert logical_to_spec(("norm",)) == P(None)
    # a mesh axis is never used twice in one spec
    assert logical_to_spec(("heads", "kv_heads")) == P("tensor", None)


def _specs(model, mesh) -> dict[str, P]:
    return {k: v.get_value().spec for k, v in flat_params(param_shardings(model, mesh)).items()}


def test_init_model_places_every_parameter_as_the_rules_say():
    mesh = make_mesh(MeshConfig(data=1, fsdp=4, tensor=2))
    model = init_model(TINY, mesh=mesh, seed=1)
    params = flat_params(model)
    expected = {
        "model.embed_tokens.embedding": P("tensor", "fsdp"),
        # layer parameters are stacked [num_layers, ...]; the layer axis is never sharded
        "model.layers.self_attn.q_proj.kernel": P(None, "fsdp", "tensor", None),
        "model.layers.self_attn.q_proj.bias": P(None, "tensor", None),
        "model.layers.self_attn.k_proj.kernel": P(None, "fsdp", "tensor", None),
        "model.layers.self_attn.o_proj.kernel": P(None, "tensor", None, "fsdp"),
        "model.layers.mlp.gate_proj.kernel": P(None, "fsdp", "tensor"),
        "model.layers.mlp.down_proj.kernel": P(None, "tensor", "fsdp"),
        "model.layers.input_layernorm.scale": P(None, None),
        "model.norm.scale": P(None),
    }
    for name, spec in expected.items():
        assert params[name][...].sharding.spec == spec, name
    # every parameter, not only the listed ones, sits where the table says; shards are really split
    for name, spec in _specs(model, mesh).items():
        assert params[name][...].sharding.spec == spec, name
    embedding = params["model.embed_tokens.embedding"][...]
    assert embedding.addressable_shards[0].data.shape == (512 // 2, 64 // 4)


def test_tensor_parallel_larger_than_kv_heads_replicates_kv_projections():
    mesh = make_mesh(MeshConfig(data=1, fsdp=2, tensor=4))  # tp=4 > 2 KV heads
    model = init_model(TINY, mesh=mesh)
    params = flat_params(model)
    assert params["model.layers.self_attn.k_proj.kernel"][...].sharding.spec == P(None, "fsdp", None, None)
    assert params["model.layers.self_attn.v_proj.bias"][...].sharding.spec == P(None, None, None)
    assert params["model.layers.self_attn.q_proj.kernel"][...].sharding.spec == P(
        None, "fsdp", "tensor", None
    )
    ids, mask = padded_batch([7, 3], 8, 512, side="left")
    reference = init_model(TINY)  # same seed, unsharded
    with jax.set_mesh(mesh):
        sharded = jax.jit(lambda m, i, a: m(i, a))(model, jnp.asarray(ids), jnp.asarray(mask))
    plain = reference(jnp.asarray(ids), jnp.asarray(mask))
    np.testing.assert_allclose(np.asarray(sharded), np.asarray(plain), atol=1e-5)


def test_indivisible_parameter_dimension_names_tensor_shape_and_axis():
    config = TINY.replace(intermediate_size=100)  # 100 % tensor 8 != 0
    mesh = make_mesh(MeshConfig(fsdp=1, tensor=8))
    expected = (
        r"parameter model\.layers\.mlp\.down_proj\.kernel: shape \(2, 100, 64\) dim 1 \(mlp=100\) "
        r"is not divisible by mesh axis 'tensor' of size 8"
    )
    with pytest.raises(ShardingError, match=expected):
        param_shardings(abstract_model(config), mesh)


def test_from_pretrained_streams_onto_the_mesh(tmp_path):
    path = make_qwen2(tmp_path / "q", tie=False, vocab_size=512)
    mesh = make_mesh(MeshConfig(data=2, fsdp=2, tensor=2))
    model = from_pretrained(path, mesh=mesh)
    params = flat_params(model)
    for name, spec in _specs(model, mesh).items():
        assert params[name][...].sharding.spec == spec, name
    assert params["lm_head.kernel"][...].sharding.spec == P("fsdp", "tensor")
    plain = from_pretrained(path)
    ids, mask = padded_batch([5, 8, 2, 6], 8, 512, side="left")
    batch = put_batch(mesh, {"ids": ids, "mask": mask})
    assert batch["ids"].sharding.is_equivalent_to(NamedSharding(mesh, P(("data", "fsdp"), None)), 2)
    with jax.set_mesh(mesh):
        out = jax.jit(lambda m, b: m(b["ids"], b["mask"]))(model, batch)
    np.testing.assert_allclose(
        np.asarray(out), np.asarray(plain(jnp.asarray(ids), jnp.asarray(mask))), atol=1e-5
    )


def test_constrain_is_a_noop_without_a_mesh_and_shards_under_one():
    x = jnp.ones((8, 4, 16))
    assert constrain(x, ("act_batch", "act_len", "act_embed")) is x
    mesh = make_mesh(MeshConfig())
    with jax.set_mesh(mesh):
        y = jax.jit(lambda a: constrain(a * 2, ("act_batch", "act_len", "act_embed")))(x)
        # a batch the mesh does not divide stays unsharded instead of failing (decode with batch 1)
        z = jax.jit(lambda a: constrain(a * 2, ("act_batch", None)))(jnp.ones((3, 4)))
    assert y.sharding.is_equivalent_to(NamedSharding(mesh, P(("data", "fsdp"), None, None)), 3)
    assert {s.data.shape for s in y.addressable_shards} == {(1, 4, 16)}
    assert z.shape == (3, 4)


def test_named_sharding_checks_shape_and_put_batch_rejects_uneven_batches():
    mesh = make_mesh(MeshConfig())
    assert named_sharding(mesh, ("embed", "mlp"), (64, 128)).spec == P("fsdp", "tensor")
    with pytest.raises(ShardingError, match=r"batch field 'ids' of shape \(6, 3\)"):
        put_batch(mesh, {"ids": np.zeros((6, 3))})


def test_param_logical_axes_names_every_parameter_for_optimizer_shardings():
    from acecoder_jax.models import param_logical_axes

    axes = flat_params(param_logical_axes(abstract_model(TINY, "reward")))
    assert axes["backbone.model.layers.self_attn.o_proj.kernel"].get_value() == P(
        "layers", "heads", "head_dim", "embed"
    )
    assert axes["v_head.summary.kernel"].get_value() == P("embed", "score")
    assert "backbone.lm_head.kernel" not in axes  # a reward model carries no LM head
