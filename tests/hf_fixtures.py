"""Tiny random transformers models saved to a directory: the numerical reference for every model test.

Nothing here downloads anything. Each `make_*` builds a PyTorch model with a fixed seed, saves it as a
Hugging Face checkpoint (fp32 safetensors + config.json) and returns the directory. `reward_reference` /
`logits_reference` compute what the PyTorch side says for given inputs. Other test files reuse these helpers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2ForSequenceClassification,
)

QWEN_VOCAB = 151936  # the real Qwen2.5 embedding rows, so real tokenizer ids fit
TINY = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2
)
LLAMA3_SCALING = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    # small so that the test positions reach the smoothed and the scaled frequency bands
    "original_max_position_embeddings": 16,
}


def qwen2_config(*, tie: bool = True, vocab_size: int = QWEN_VOCAB, **overrides) -> Qwen2Config:
    """A tiny Qwen2 config (q/k/v bias, GQA 4 heads / 2 KV heads, RoPE theta 1e6)."""
    kw = dict(
        TINY,
        vocab_size=vocab_size,
        tie_word_embeddings=tie,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        max_position_embeddings=4096,
        bos_token_id=151643 if vocab_size > 151643 else None,
        eos_token_id=151645 if vocab_size > 151645 else None,
        pad_token_id=151643 if vocab_size > 151643 else 0,
    )
    kw.update(overrides)
    return Qwen2Config(**kw)


def llama3_config(*, vocab_size: int = 1024, **overrides) -> LlamaConfig:
    """A tiny Llama 3 config with llama3 RoPE scaling and untied embeddings."""
    kw = dict(
        TINY,
        vocab_size=vocab_size,
        tie_word_embeddings=False,
        rope_theta=500_000.0,
        rope_scaling=dict(LLAMA3_SCALING),
        rms_norm_eps=1e-5,
        max_position_embeddings=4096,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    kw.update(overrides)
    return LlamaConfig(**kw)


def _randomize(model: torch.nn.Module, seed: int) -> None:
    """Give every parameter (norms and biases too) non-trivial values so parity tests exercise them."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))


def make_causal_lm(out_dir: str | Path, config: Qwen2Config | LlamaConfig, *, seed: int = 0) -> Path:
    """Build a random Qwen2ForCausalLM / LlamaForCausalLM in fp32 and save it to `out_dir`."""
    torch.manual_seed(seed)
    cls = Qwen2ForCausalLM if isinstance(config, Qwen2Config) else LlamaForCausalLM
    model = cls(config).eval()
    _randomize(model, seed)
    out = Path(out_dir)
    model.save_pretrained(out)
    return out


def make_qwen2(out_dir: str | Path, *, tie: bool = True, seed: int = 0, **overrides) -> Path:
    """A tiny random Qwen2ForCausalLM checkpoint (tied or untied)."""
    return make_causal_lm(out_dir, qwen2_config(tie=tie, **overrides), seed=seed)


def make_llama3(out_dir: str | Path, *, seed: int = 0, **overrides) -> Path:
    """A tiny random LlamaForCausalLM checkpoint with llama3 RoPE scaling."""
    return make_causal_lm(out_dir, llama3_config(**overrides), seed=seed)


def make_acecoderm(out_dir: str | Path, *, tie: bool = False, seed: int = 0, **overrides) -> Path:
    """AceCodeRM layout: Qwen2ForCausalLM weights + `v_head.summary.{weight,bias}` in the same safetensors."""
    out = make_qwen2(out_dir, tie=tie, seed=seed, **overrides)
    gen = torch.Generator().manual_seed(seed + 1)
    hidden = qwen2_config(tie=tie, **overrides).hidden_size
    tensors = load_file(out / "model.safetensors")
    tensors["v_head.summary.weight"] = 0.1 * torch.randn((1, hidden), generator=gen)
    tensors["v_head.summary.bias"] = 0.1 * torch.randn((1,), generator=gen)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    return out


def make_openrlhf_rm(out_dir: str | Path, *, seed: int = 0, **overrides) -> Path:
    """OpenRLHF's reward layout (`model.*` + `score.weight`, no bias) via Qwen2ForSequenceClassification."""
    config = qwen2_config(tie=False, num_labels=1, **overrides)
    torch.manual_seed(seed)
    model = Qwen2ForSequenceClassification(config).eval()
    _randomize(model, seed)
    out = Path(out_dir)
    model.save_pretrained(out)
    return out


def _tensors(ids: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids_t = torch.as_tensor(np.asarray(ids), dtype=torch.long)
    mask_t = torch.as_tensor(np.asarray(mask), dtype=torch.long)
    # cumsum - 1 positions, as transformers' generate() builds them for left padding
    pos_t = (mask_t.cumsum(-1) - 1).clamp(min=0)
    return ids_t, mask_t, pos_t


def logits_reference(path: str | Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """PyTorch logits [B, T, V] of the causal LM at `path`."""
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ids_t, mask_t, pos_t = _tensors(ids, mask)
    with torch.no_grad():
        return model(input_ids=ids_t, attention_mask=mask_t, position_ids=pos_t).logits.numpy()


def last_nonpad(mask: np.ndarray) -> np.ndarray:
    """Index of each row's last real token (left or right padding)."""
    mask = np.asarray(mask)
    t = mask.shape[1]
    return t - 1 - np.argmax(mask[:, ::-1], axis=1)


def reward_reference(path: str | Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """AceCodeRM scores: Qwen2ForCausalLM final hidden state at the last real token -> v_head.summary."""
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tensors = load_file(Path(path) / "model.safetensors")
    head = torch.nn.Linear(model.config.hidden_size, 1)
    with torch.no_grad():
        head.weight.copy_(tensors["v_head.summary.weight"])
        head.bias.copy_(tensors["v_head.summary.bias"])
        ids_t, mask_t, pos_t = _tensors(ids, mask)
        out = model(input_ids=ids_t, attention_mask=mask_t, position_ids=pos_t, output_hidden_states=True)
        hidden = out.hidden_states[-1]  # after the final norm, as trl's value head reads it
        idx = torch.as_tensor(last_nonpad(mask))
        picked = hidden[torch.arange(hidden.shape[0]), idx]
        return head(picked)[:, 0].numpy()


def sequence_classification_reference(path: str | Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Scores from transformers' *ForSequenceClassification (num_labels=1) at the last non-pad token."""
    model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32).eval()
    ids_t, mask_t, pos_t = _tensors(ids, mask)
    with torch.no_grad():
        return model(input_ids=ids_t, attention_mask=mask_t, position_ids=pos_t).logits[:, 0].numpy()


def padded_batch(
    lengths: list[int], total: int, vocab_size: int, *, side: str, pad_id: int = 0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random token ids [B, total] with the given real lengths, padded on `side` ("left" or "right")."""
    rng = np.random.default_rng(seed)
    ids = np.full((len(lengths), total), pad_id, np.int32)
    mask = np.zeros((len(lengths), total), np.int32)
    for i, n in enumerate(lengths):
        sl = slice(total - n, total) if side == "left" else slice(0, n)
        ids[i, sl] = rng.integers(3, min(vocab_size, 151643), n)  # never the pad id
        mask[i, sl] = 1
    return ids, mask


def read_config(path: str | Path) -> dict:
    """config.json of a checkpoint dir."""
    return json.loads((Path(path) / "config.json").read_text())


def greedy_ids(model: torch.nn.Module, prompt: list[int], max_new: int, pad_token_id: int) -> torch.Tensor:
    """transformers' greedy continuation of one unpadded prompt, exactly `max_new` tokens (EOS ignored):
    [1, len(prompt) + max_new] ids, the prompt included."""
    ids = torch.tensor([prompt])
    with torch.no_grad():
        return model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=max_new,
            min_new_tokens=max_new,
            eos_token_id=None,
            pad_token_id=pad_token_id,
        )
