"""A tiny random Qwen2 causal LM with the real Qwen2.5 tokenizer, for CPU tests and the demo (no downloads).

The model name `tiny-random-qwen2` in a transformers backend config resolves to this model, built once into
the cache directory. Its replies are random tokens: it exercises the pipeline, not the quality of the data.
"""

from __future__ import annotations

from pathlib import Path

TINY_MODEL_NAME = "tiny-random-qwen2"
QWEN25_FULL_VOCAB = 151936  # Qwen2.5's embedding rows (tokenizer ids fit below it)
_BUILD_VERSION = "1"


def build_tiny_qwen2(path: str | Path, *, seed: int = 0, hidden_size: int = 32, layers: int = 2) -> Path:
    """Save a random Qwen2ForCausalLM (vocab 151936, tiny width) and the Qwen2.5 tokenizer into `path`."""
    import torch
    from transformers import GenerationConfig as HFGenerationConfig
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from acecoder_jax.common.tokenizer import load_qwen25_tokenizer

    tokenizer = load_qwen25_tokenizer()
    config = Qwen2Config(
        vocab_size=QWEN25_FULL_VOCAB,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config = HFGenerationConfig(
        eos_token_id=[config.eos_token_id, config.bos_token_id], pad_token_id=config.bos_token_id
    )
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_model_dir() -> Path:
    """The cached tiny model directory, built (atomically) on first use."""
    from acecoder_jax.common.atomic_build import atomic_build_dir
    from acecoder_jax.common.tokenizer import cache_root

    return atomic_build_dir(
        cache_root() / f"tiny_random_qwen2_v{_BUILD_VERSION}", build_tiny_qwen2, "config.json"
    )
