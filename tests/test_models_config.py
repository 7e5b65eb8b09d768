"""ModelConfig presets and HF config round trips; bf16 compute; remat and scan unrolling; counts, FLOPs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hf_fixtures import llama3_config, padded_batch, qwen2_config

from acecoder_jax.models import ModelConfig, count_params, flops_per_token, init_model, training_model_config
from acecoder_jax.models.init import abstract_model

# Parameter counts of the released checkpoints (sum of tensor sizes in their safetensors).
KNOWN_COUNTS = {
    "qwen2.5-0.5b": 494_032_768,
    "qwen2.5-coder-7b": 7_615_616_512,
    "qwen2.5-coder-32b": 32_763_876_352,
    "llama-3.1-8b": 8_030_261_248,
}


@pytest.mark.parametrize("name", sorted(KNOWN_COUNTS))
def test_presets_have_the_released_parameter_counts(name):
    assert count_params(abstract_model(ModelConfig.preset(name))) == KNOWN_COUNTS[name]


def test_preset_tying_follows_the_vocab_size():
    for name in ("qwen2.5-0.5b", "qwen2.5-coder-1.5b", "qwen2.5-3b"):
        cfg = ModelConfig.preset(name)
        assert cfg.tie_word_embeddings and cfg.vocab_size == 151936
    for name in ("qwen2.5-7b", "qwen2.5-coder-14b", "qwen2.5-32b"):
        cfg = ModelConfig.preset(name)
        assert not cfg.tie_word_embeddings and cfg.vocab_size == 152064
    with pytest.raises(KeyError, match="unknown model preset 'gpt2'"):
        ModelConfig.preset("gpt2")


@pytest.mark.parametrize("hf", [qwen2_config(tie=True), qwen2_config(tie=False), llama3_config()])
def test_hf_config_round_trip_through_transformers(hf):
    cfg = ModelConfig.from_hf_config({**hf.to_dict(), "architectures": _arch(hf)})
    again = ModelConfig.from_hf_config(cfg.to_hf_config())
    assert again == cfg
    # transformers reads our config.json back with the same shapes and RoPE settings
    reread = type(hf)(**cfg.to_hf_config())
    assert reread.num_key_value_heads == hf.num_key_value_heads
    assert reread.tie_word_embeddings == hf.tie_word_embeddings
    assert reread.rope_parameters == hf.rope_parameters


def _arch(hf) -> list[str]:
    return ["Qwen2ForCausalLM"] if hf.model_type == "qwen2" else ["LlamaForCausalLM"]


def test_config_is_hashable_and_usable_as_a_static_jit_argument():
    cfg = ModelConfig.preset("llama-3.1-8b")
    assert hash(cfg) == hash(ModelConfig.preset("llama-3.1-8b"))
    assert jax.jit(lambda x, c: x * c.num_layers, static_argnums=1)(jnp.ones(()), cfg) == 32


def test_bf16_compute_keeps_fp32_masters_logits_and_close_values():
    cfg32 = ModelConfig.tiny().replace(vocab_size=512)
    cfg16 = cfg32.replace(dtype="bfloat16")
    model32, model16 = init_model(cfg32, seed=2), init_model(cfg16, seed=2)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(nnx.state(model16, nnx.Param)))
    ids, mask = padded_batch([8, 4], 8, 512, side="left")
    forward = nnx.jit(lambda m, i, a: m(i, a))
    out32 = forward(model32, jnp.asarray(ids), jnp.asarray(mask))
    out16 = forward(model16, jnp.asarray(ids), jnp.asarray(mask))
    assert out16.dtype == jnp.float32
    hidden = nnx.jit(lambda m, i, a: m.hidden_states(i, a))(model16, jnp.asarray(ids), jnp.asarray(mask))
    assert hidden.dtype == jnp.bfloat16
    real = mask.astype(bool)
    diff = np.abs(np.asarray(out16) - np.asarray(out32))[real]
    assert diff.max() < 0.05 * np.abs(np.asarray(out32))[real].max()


@pytest.mark.parametrize(
    "runtime", [{"remat": True}, {"scan_unroll": 2}, {"scan_unroll": 2, "remat": True}], ids=str
)
def test_remat_and_scan_unrolling_give_the_same_loss_and_gradients(runtime):
    cfg = ModelConfig.tiny().replace(vocab_size=512)
    assert cfg.num_layers == 2
    ids, mask = padded_batch([8, 5], 8, 512, side="right")

    def loss_and_grads(config):
        model = init_model(config, seed=4)

        def loss(m):
            logits = m(jnp.asarray(ids), jnp.asarray(mask))
            return jnp.mean(jax.nn.logsumexp(logits, axis=-1))

        return nnx.jit(nnx.value_and_grad(loss))(model)

    loss_a, grads_a = loss_and_grads(cfg)
    loss_b, grads_b = loss_and_grads(cfg.replace(**runtime))
    np.testing.assert_allclose(float(loss_a), float(loss_b), rtol=1e-6)
    layer_grad = np.asarray(grads_a["model"]["layers"]["mlp"]["up_proj"]["kernel"][...])
    assert layer_grad.shape[0] == cfg.num_layers and np.all(np.abs(layer_grad).reshape(2, -1).max(-1) > 0)
    for a, b in zip(jax.tree.leaves(grads_a), jax.tree.leaves(grads_b)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_scan_unroll_is_validated_and_kept_from_the_model_yaml(tmp_path):
    with pytest.raises(ValueError, match="scan_unroll=0: expected >= 1"):
        ModelConfig.tiny().replace(scan_unroll=0)
    spec = tmp_path / "m.yaml"
    spec.write_text(
        "vocab_size: 64\nhidden_size: 16\nintermediate_size: 32\nnum_layers: 2\n"
        "num_heads: 2\nnum_kv_heads: 1\nhead_dim: 8\nscan_unroll: 2\n"
    )
    assert training_model_config(spec, dtype="float32", remat=False).scan_unroll == 2
    assert training_model_config(spec, dtype="float32", remat=False, scan_unroll=1).scan_unroll == 1


def test_flops_per_token_is_six_n_plus_attention():
    cfg = ModelConfig.preset("qwen2.5-coder-7b")
    n_matmul = count_params(abstract_model(cfg)) - cfg.vocab_size * cfg.hidden_size  # lookup has no FLOPs
    n_matmul -= (
        sum(  # norms and biases are not matmul weights
            cfg.hidden_size * 2 + (cfg.num_heads + 2 * cfg.num_kv_heads) * cfg.head_dim
            for _ in range(cfg.num_layers)
        )
        + cfg.hidden_size
    )
    attn = 12 * cfg.num_layers * cfg.num_heads * cfg.head_dim * 2048
    assert flops_per_token(cfg, 2048) == pytest.approx(6 * n_matmul + attn, rel=1e-9)
    assert flops_per_token(cfg, 2048, training=False) == pytest.approx((6 * n_matmul + attn) / 3, rel=1e-9)


def test_model_yaml_files_equal_their_presets():
    from pathlib import Path

    from acecoder_jax.models.config import load_model_config

    files = sorted(Path(__file__).resolve().parents[1].glob("configs/model/*.yaml"))
    assert files
    for file in files:
        assert load_model_config(file) == ModelConfig.preset(file.stem), file
    assert load_model_config("tiny", ["dtype=bfloat16"]).dtype == "bfloat16"
