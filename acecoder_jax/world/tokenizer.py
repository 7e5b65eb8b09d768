"""The world tokenizer: a small byte-level BPE trained on the world's own text, with Qwen2.5's special tokens
and ChatML chat template, saved as an ordinary Hugging Face tokenizer directory.

Its normaliser (NFC) and pre-tokenizer (Qwen2.5's split regex, then byte-level) are exactly the ones
transformers' `Qwen2Tokenizer` rebuilds from a vocabulary and merges. That matters: `AutoTokenizer` loads any
tokenizer that sits in a `model_type: qwen2` model directory (an SFT or RL policy, an exported reward model)
as `Qwen2Tokenizer`, whatever `tokenizer_config.json` says, so a tokenizer with its own splitting rules would
encode differently there than where it was trained. Digits are one per token (held-out constants are spelled
with the same tokens as train ones); newlines split as in Qwen2.5, so a prompt that ends at a fence tokenizes
as a prefix of the full answer. The BPE ranks come first and the 22 added tokens follow them in Qwen2.5's
order, as in Qwen2.5 itself; the total is fixed (`WORLD_VOCAB_SIZE`), so configs/model/world-tiny.yaml fits
every seed. Importable without jax; `tokenizers`/`transformers` are imported when a tokenizer is built or
loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from acecoder_jax.common.prompts import Chat
from acecoder_jax.common.tokenizer import QWEN25_ADDED_TOKENS, qwen25_chat_template
from acecoder_jax.data.pair_format import QWEN25_DEFAULT_SYSTEM

WORLD_VOCAB_SIZE = 1024  # BPE ranks + added tokens; the world-tiny model's vocab_size (the text allows ~1.5K)
WORLD_BPE_SIZE = WORLD_VOCAB_SIZE - len(QWEN25_ADDED_TOKENS)
ENDOFTEXT_ID = WORLD_BPE_SIZE  # pad (and bos), as <|endoftext|> in Qwen2.5
IM_START_ID = WORLD_BPE_SIZE + 1
IM_END_ID = WORLD_BPE_SIZE + 2  # eos: generation stops at the end of a turn
# Qwen2.5's split (tokenizer.json of Qwen/Qwen2.5-*, and transformers' Qwen2Tokenizer.PRETOKENIZE_REGEX).
QWEN25_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def chat_corpus(chats: Iterable[Chat]) -> Iterable[str]:
    """The text between special tokens of each chat as ChatML renders it: the default system turn, then
    `role\ncontent` per message (special tokens never reach the BPE)."""
    for chat in chats:
        yield f"system\n{QWEN25_DEFAULT_SYSTEM}"
        for message in chat:
            yield f"{message['role']}\n{message['content']}"


def train_world_tokenizer(texts: Iterable[str], vocab_size: int = WORLD_VOCAB_SIZE) -> Any:
    """A transformers tokenizer: byte-level BPE trained on `texts`, Qwen2.5 added tokens, ChatML template."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    bpe_size = vocab_size - len(QWEN25_ADDED_TOKENS)
    core = Tokenizer(models.BPE())
    core.normalizer = normalizers.NFC()
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN25_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=bpe_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte: any text round-trips
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    if core.get_vocab_size() != bpe_size:
        raise ValueError(
            f"world tokenizer: the text yields {core.get_vocab_size()} BPE ranks, need {bpe_size}"
        )
    core.add_tokens(
        [AddedToken(text, special=special, normalized=False) for text, special in QWEN25_ADDED_TOKENS]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )
    extra = [text for text, special in QWEN25_ADDED_TOKENS if special and text != "<|endoftext|>"]
    tokenizer.add_special_tokens({"additional_special_tokens": extra})
    for expected_id, (text, _) in enumerate(QWEN25_ADDED_TOKENS, start=bpe_size):
        if tokenizer.convert_tokens_to_ids(text) != expected_id:
            raise ValueError(f"world tokenizer: {text!r} got id {tokenizer.convert_tokens_to_ids(text)}")
    tokenizer.chat_template = qwen25_chat_template()
    return tokenizer


def save_world_tokenizer(chats: Iterable[Chat], directory: str | Path) -> Path:
    """Train the world tokenizer on `chats` and save it to `directory` (AutoTokenizer loads it)."""
    train_world_tokenizer(chat_corpus(chats)).save_pretrained(str(directory))
    return Path(directory)


def load_world_tokenizer(directory: str | Path) -> Any:
    """The saved world tokenizer, loaded the ordinary way (transformers.AutoTokenizer)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(directory))
