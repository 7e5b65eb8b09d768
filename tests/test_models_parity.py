"""Numerical parity with transformers/PyTorch: logits, reward scores, and exported checkpoints reloaded."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hf_fixtures import (
    last_nonpad,
    logits_reference,
    make_acecoderm,
    make_llama3,
    make_openrlhf_rm,
    make_qwen2,
    padded_batch,
    read_config,
    reward_reference,
    sequence_classification_reference,
)
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from acecoder_jax.models import CausalLM, RewardModel, from_pretrained, save_pretrained

VOCAB = 1024  # small vocab keeps the PyTorch reference fast; the tiny preset itself uses the real 151936
TOL = 1e-4


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {
        "qwen2-tied": make_qwen2(root / "qwen2-tied", tie=True, vocab_size=VOCAB),
        "qwen2-untied": make_qwen2(root / "qwen2-untied", tie=False, vocab_size=VOCAB, seed=1),
        "llama3": make_llama3(root / "llama3", vocab_size=VOCAB, seed=2),
        "acecoderm": make_acecoderm(root / "acecoderm", vocab_size=VOCAB, seed=3),
        "openrlhf": make_openrlhf_rm(root / "openrlhf", vocab_size=VOCAB, seed=4),
    }


def _batch(side: str, seed: int = 0):
    # ragged lengths incl. a 1-token row; T=13 exercises the llama3 smoothed RoPE band (original_max 16)
    return padded_batch([13, 6, 1, 9], 13, VOCAB, side=side, seed=seed)


def _max_diff_on_tokens(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(a - b)[mask.astype(bool)].max())


@pytest.mark.parametrize("name", ["qwen2-tied", "qwen2-untied", "llama3"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_causal_lm_logits_match_transformers(checkpoints, name, side):
    path = checkpoints[name]
    ids, mask = _batch(side)
    model = from_pretrained(path)
    assert isinstance(model, CausalLM)
    logits = model(jnp.asarray(ids), jnp.asarray(mask))
    assert logits.dtype == jnp.float32 and logits.shape == (4, 13, VOCAB)
    assert _max_diff_on_tokens(np.asarray(logits), logits_reference(path, ids, mask), mask) < TOL


def test_left_and_right_padding_give_the_same_logits(checkpoints):
    model = from_pretrained(checkpoints["qwen2-untied"])
    left_ids, left_mask = _batch("left")
    right_ids, right_mask = _batch("right")
    left = np.asarray(model(jnp.asarray(left_ids), jnp.asarray(left_mask)))
    right = np.asarray(model(jnp.asarray(right_ids), jnp.asarray(right_mask)))
    for row in range(4):
        np.testing.assert_allclose(
            left[row][left_mask[row] == 1], right[row][right_mask[row] == 1], atol=1e-5
        )


@pytest.mark.parametrize("side", ["left", "right"])
def test_reward_model_matches_pytorch_value_head(checkpoints, side):
    path = checkpoints["acecoderm"]
    ids, mask = _batch(side, seed=5)
    model = from_pretrained(path)
    assert isinstance(model, RewardModel)
    scores = model(jnp.asarray(ids), jnp.asarray(mask))
    assert scores.dtype == jnp.float32 and scores.shape == (4,)
    np.testing.assert_allclose(np.asarray(scores), reward_reference(path, ids, mask), atol=TOL, rtol=0)


def test_openrlhf_layout_loads_and_matches_sequence_classification(checkpoints):
    path = checkpoints["openrlhf"]
    ids, mask = _batch("right", seed=6)
    pad = read_config(path)["pad_token_id"]
    ids = np.where(mask == 1, ids, pad)  # transformers' classifier finds the last token through pad ids
    model = from_pretrained(path)
    assert isinstance(model, RewardModel)
    assert float(np.asarray(model.v_head.summary.bias[...])[0]) == 0.0
    ours = np.asarray(model(jnp.asarray(ids), jnp.asarray(mask)))
    np.testing.assert_allclose(ours, sequence_classification_reference(path, ids, mask), atol=TOL, rtol=0)


def _state_dict_equal(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], names) -> None:
    for name in names:
        np.testing.assert_array_equal(ours[name].numpy(), theirs[name].numpy(), err_msg=name)


@pytest.mark.parametrize("name", ["qwen2-untied", "qwen2-tied", "llama3"])
def test_export_reloads_in_transformers_with_identical_weights_and_logits(checkpoints, tmp_path, name):
    src = checkpoints[name]
    model = from_pretrained(src)
    out = save_pretrained(model, tmp_path / "export")
    config = read_config(out)
    assert config["architectures"] == [read_config(src)["architectures"][0]]
    original = load_file(src / "model.safetensors")
    exported = load_file(out / "model.safetensors")
    assert set(exported) == set(original)  # tied models write no lm_head.weight
    _state_dict_equal(exported, original, original)

    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    state = {k: v.detach() for k, v in reloaded.state_dict().items()}
    _state_dict_equal(state, original, original)
    ids, mask = _batch("left", seed=7)
    ours = np.asarray(model(jnp.asarray(ids), jnp.asarray(mask)))
    assert _max_diff_on_tokens(ours, logits_reference(out, ids, mask), mask) < TOL


def test_sharded_export_writes_an_index_that_transformers_loads(checkpoints, tmp_path):
    model = from_pretrained(checkpoints["qwen2-untied"])
    tok = tmp_path / "tok"
    tok.mkdir()
    (tok / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 128}))
    out = save_pretrained(model, tmp_path / "sharded", max_shard_bytes=200_000, tokenizer_dir=tok)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    files = sorted(set(index["weight_map"].values()))
    assert len(files) > 1 and all((out / f).is_file() for f in files)
    assert (out / "tokenizer_config.json").is_file()
    ids, mask = _batch("right", seed=8)
    ours = np.asarray(model(jnp.asarray(ids), jnp.asarray(mask)))
    assert _max_diff_on_tokens(ours, logits_reference(out, ids, mask), mask) < TOL
    again = from_pretrained(out)  # our loader reads the sharded layout back
    np.testing.assert_array_equal(np.asarray(again(jnp.asarray(ids), jnp.asarray(mask))), ours)


def test_reward_export_acecoderm_layout_round_trips(checkpoints, tmp_path):
    src = checkpoints["acecoderm"]
    model = from_pretrained(src)
    out = save_pretrained(model, tmp_path / "rm")
    tensors = load_file(out / "model.safetensors")
    original = load_file(src / "model.safetensors")
    assert "lm_head.weight" not in tensors  # a reward model has no LM head; config says tied instead
    _state_dict_equal(tensors, original, [n for n in original if n != "lm_head.weight"])
    # transformers loads the backbone as a complete Qwen2ForCausalLM: every tensor but the value head is used
    backbone = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    state = backbone.state_dict()
    _state_dict_equal(state, original, [n for n in original if n.startswith("model.")])
    ids, mask = _batch("left", seed=9)
    np.testing.assert_allclose(
        np.asarray(from_pretrained(out)(jnp.asarray(ids), jnp.asarray(mask))),
        reward_reference(src, ids, mask),
        atol=TOL,
        rtol=0,
    )


def test_reward_export_openrlhf_layout_round_trips(checkpoints, tmp_path):
    model = from_pretrained(checkpoints["openrlhf"])
    out = save_pretrained(model, tmp_path / "orlhf", layout="openrlhf")
    config = read_config(out)
    assert config["architectures"] == ["Qwen2ForSequenceClassification"] and config["num_labels"] == 1
    tensors = load_file(out / "model.safetensors")
    assert "score.weight" in tensors and not any(n.startswith("v_head") for n in tensors)
    _state_dict_equal(tensors, load_file(checkpoints["openrlhf"] / "model.safetensors"), tensors)
    ids, mask = _batch("left", seed=10)
    ids = np.where(mask == 1, ids, config["pad_token_id"])
    ours = np.asarray(model(jnp.asarray(ids), jnp.asarray(mask)))
    np.testing.assert_allclose(ours, sequence_classification_reference(out, ids, mask), atol=TOL, rtol=0)
    np.testing.assert_allclose(np.asarray(from_pretrained(out)(jnp.asarray(ids), jnp.asarray(mask))), ours)


def test_acecoderm_to_openrlhf_refuses_to_drop_a_nonzero_bias(checkpoints, tmp_path):
    model = from_pretrained(checkpoints["acecoderm"])
    with pytest.raises(ValueError, match=r"v_head\.summary\.bias"):
        save_pretrained(model, tmp_path / "x", layout="openrlhf")
    out = save_pretrained(model, tmp_path / "y", layout="openrlhf", drop_head_bias=True)
    ids, mask = _batch("right", seed=11)
    bias = float(np.asarray(model.v_head.summary.bias[...])[0])
    shifted = np.asarray(from_pretrained(out)(jnp.asarray(ids), jnp.asarray(mask)))
    np.testing.assert_allclose(
        shifted + bias, np.asarray(model(jnp.asarray(ids), jnp.asarray(mask))), atol=1e-5
    )


def test_reward_model_started_from_a_causal_lm_keeps_the_backbone(checkpoints):
    path = checkpoints["qwen2-untied"]
    rm = from_pretrained(path, kind="reward", seed=3)
    lm = from_pretrained(path)
    ids, mask = _batch("left", seed=12)
    hidden_rm = np.asarray(rm.backbone.hidden_states(jnp.asarray(ids), jnp.asarray(mask)))
    hidden_lm = np.asarray(lm.hidden_states(jnp.asarray(ids), jnp.asarray(mask)))
    np.testing.assert_array_equal(hidden_rm, hidden_lm)
    kernel = np.asarray(rm.v_head.summary.kernel[...])
    assert kernel.std() > 0 and float(np.asarray(rm.v_head.summary.bias[...])[0]) == 0.0
    expected = hidden_lm[np.arange(4), last_nonpad(mask)] @ kernel[:, 0]
    np.testing.assert_allclose(np.asarray(rm(jnp.asarray(ids), jnp.asarray(mask))), expected, atol=1e-5)


def test_bf16_checkpoints_load_and_save_bit_exactly(checkpoints, tmp_path):
    """Released checkpoints are bf16: read without torch, upcast exactly, written back unchanged."""
    bf16_dir = tmp_path / "bf16"
    torch_bf16 = AutoModelForCausalLM.from_pretrained(checkpoints["qwen2-untied"], dtype=torch.bfloat16)
    torch_bf16.save_pretrained(bf16_dir)
    source = load_file(bf16_dir / "model.safetensors")
    assert source["model.layers.0.mlp.up_proj.weight"].dtype == torch.bfloat16

    masters = from_pretrained(bf16_dir)  # fp32 master weights by default
    kernel = np.asarray(masters.model.layers.mlp.up_proj.kernel[...])
    assert kernel.dtype == np.float32
    np.testing.assert_array_equal(kernel[1], source["model.layers.1.mlp.up_proj.weight"].float().numpy().T)

    model = from_pretrained(bf16_dir, dtype=jnp.bfloat16, param_dtype=jnp.bfloat16)
    out = save_pretrained(model, tmp_path / "bf16-out")
    assert read_config(out)["torch_dtype"] == "bfloat16"
    written = load_file(out / "model.safetensors")
    assert set(written) == set(source)
    for name, tensor in source.items():
        assert written[name].dtype == torch.bfloat16, name
        assert torch.equal(written[name], tensor), name
