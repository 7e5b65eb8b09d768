"""Bad checkpoints fail with messages naming the tensor, its shape and the expected shape."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from hf_fixtures import make_qwen2, read_config
from safetensors.torch import load_file, save_file

from acecoder_jax.models import CheckpointError, ModelConfig, UnsupportedArchitectureError, from_pretrained


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return make_qwen2(tmp_path_factory.mktemp("good") / "ckpt", tie=False, vocab_size=512)


def _copy_with(good, tmp_path, edit) -> object:
    out = tmp_path / "bad"
    shutil.copytree(good, out)
    tensors = load_file(out / "model.safetensors")
    edit(tensors)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    return out


def test_missing_tensor_is_named_with_its_expected_shape(good, tmp_path):
    bad = _copy_with(good, tmp_path, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(CheckpointError, match=r"missing tensors: model\.layers\.1\.mlp\.up_proj\.weight "
                       r"\(expected shape \(128, 64\)\)"):  # fmt: skip
        from_pretrained(bad)


def test_unexpected_tensor_is_named_with_its_shape(good, tmp_path):
    bad = _copy_with(
        good, tmp_path, lambda t: t.__setitem__("model.layers.0.extra.weight", torch.zeros(3, 5))
    )
    with pytest.raises(
        CheckpointError, match=r"unexpected tensors: model\.layers\.0\.extra\.weight shape \(3, 5\)"
    ):
        from_pretrained(bad)


def test_misshaped_tensor_names_shape_and_expected_shape(good, tmp_path):
    def edit(t):
        t["model.layers.0.self_attn.k_proj.weight"] = torch.zeros(16, 64)

    bad = _copy_with(good, tmp_path, edit)
    with pytest.raises(
        CheckpointError,
        match=r"mis-shaped tensors: model\.layers\.0\.self_attn\.k_proj\.weight: shape \(16, 64\), "
        r"expected \(32, 64\)",
    ):
        from_pretrained(bad)


def test_unsupported_architecture_is_named(good, tmp_path):
    out = tmp_path / "gpt2"
    shutil.copytree(good, out)
    config = read_config(out)
    config.update(architectures=["GPT2LMHeadModel"], model_type="gpt2")
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedArchitectureError, match="GPT2LMHeadModel"):
        from_pretrained(out)


def test_unsupported_rope_scaling_and_sliding_window_are_refused():
    base = ModelConfig.tiny().to_hf_config()
    with pytest.raises(UnsupportedArchitectureError, match="yarn"):
        ModelConfig.from_hf_config({**base, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})
    with pytest.raises(UnsupportedArchitectureError, match="sliding"):
        ModelConfig.from_hf_config({**base, "use_sliding_window": True})


def test_missing_files_are_reported(tmp_path):
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(ModelConfig.tiny().to_hf_config()))
    with pytest.raises(CheckpointError, match=r"no model\.safetensors"):
        from_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00")
    with pytest.raises(CheckpointError, match="too short"):
        from_pretrained(tmp_path)


def test_tied_checkpoint_with_a_stored_lm_head_copy_still_loads(tmp_path):
    tied = make_qwen2(tmp_path / "tied", tie=True, vocab_size=512)
    tensors = load_file(tied / "model.safetensors")
    tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"].clone()  # older exporters write both
    save_file(tensors, tied / "model.safetensors", metadata={"format": "pt"})
    model = from_pretrained(tied)
    assert model.lm_head is None  # the tied embedding is the output projection
