"""The world tokenizer: loads with AutoTokenizer, round-trips the whole world, Qwen2.5 specials and ChatML."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from acecoder_jax.common.prompts import sampling_chat_with_prefill
from acecoder_jax.common.tokenizer import QWEN25_ADDED_TOKENS, load_qwen25_tokenizer
from acecoder_jax.data.sft_tokenize import encode_chats
from acecoder_jax.models.config import load_model_config
from acecoder_jax.world import build_world, ensure_world
from acecoder_jax.world.rows import sft_messages
from acecoder_jax.world.tokenizer import (
    ENDOFTEXT_ID,
    IM_END_ID,
    IM_START_ID,
    WORLD_VOCAB_SIZE,
    chat_corpus,
    train_world_tokenizer,
)


@pytest.fixture(scope="module")
def world():
    return build_world(0)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    return ensure_world(tmp_path_factory.mktemp("w") / "world", seed=0)


@pytest.fixture(scope="module")
def tokenizer(world_dir):
    return AutoTokenizer.from_pretrained(str(world_dir / "tokenizer"))


def test_loads_as_an_ordinary_hf_tokenizer_with_qwen25_special_tokens(tokenizer):
    assert len(tokenizer) == WORLD_VOCAB_SIZE
    for offset, (text, _) in enumerate(QWEN25_ADDED_TOKENS):
        assert tokenizer.convert_tokens_to_ids(text) == WORLD_VOCAB_SIZE - len(QWEN25_ADDED_TOKENS) + offset
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [
        ENDOFTEXT_ID,
        IM_START_ID,
        IM_END_ID,
    ]
    assert tokenizer.eos_token_id == IM_END_ID and tokenizer.pad_token_id == ENDOFTEXT_ID
    ids = tokenizer("a<|im_end|>b<|im_start|>", add_special_tokens=False)["input_ids"]
    assert IM_END_ID in ids and IM_START_ID in ids  # special tokens are never split
    assert tokenizer.decode(ids, skip_special_tokens=True) == "ab"


def test_chat_template_renders_like_qwen25(tokenizer, world):
    qwen = load_qwen25_tokenizer()
    chat = sft_messages(world.heldout[0])
    for kwargs in ({}, {"add_generation_prompt": True}):
        part = chat if not kwargs else chat[:1]
        assert tokenizer.apply_chat_template(part, tokenize=False, **kwargs) == qwen.apply_chat_template(
            part, tokenize=False, **kwargs
        )


def test_every_question_program_and_chat_round_trips(tokenizer, world):
    for problem in world.train + world.fresh + world.heldout:
        texts = [problem.question, problem.reference, *problem.tests]
        texts.append(tokenizer.apply_chat_template(sft_messages(problem), tokenize=False))
        for text in texts:
            assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    for text in ("  x\n\n\t  y \r\n", "héllo 世界 🙂", "def f():\n        return  {'a': [1,2]}\n"):
        assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


def test_the_sampling_prompt_is_a_prefix_of_the_trained_sequence(tokenizer, world):
    """What `acecoder sample` feeds (prompt + prefill) tokenizes as the start of the SFT sequence."""
    problems = world.train + world.fresh + world.heldout
    encoded = encode_chats(tokenizer, [sft_messages(p) for p in problems])
    for problem, (ids, _) in zip(problems, encoded):
        chat = sampling_chat_with_prefill(problem.question, problem.tests)
        prompt = tokenizer.apply_chat_template(chat, tokenize=False, continue_final_message=True)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        assert list(ids[: len(prompt_ids)]) == prompt_ids


def test_digits_are_single_tokens_and_chats_are_short(tokenizer, world_dir):
    for digit in "0123456789":
        assert len(tokenizer(digit, add_special_tokens=False)["input_ids"]) == 1
    assert tokenizer("x * 37", add_special_tokens=False)["input_ids"][-2:] == [
        tokenizer.convert_tokens_to_ids("3"),
        tokenizer.convert_tokens_to_ids("7"),
    ]
    tokens = json.loads((world_dir / "world.json").read_text())["tokens"]
    assert tokens["prompt"]["max"] + tokens["answer"]["max"] <= 256
    assert tokens["program"]["median"] <= 40


def test_training_is_deterministic(world, world_dir):
    again = train_world_tokenizer(chat_corpus(sft_messages(p) for p in world.train))
    assert json.loads(again.backend_tokenizer.to_str()) == json.loads(
        (world_dir / "tokenizer" / "tokenizer.json").read_text()
    )


def test_world_tiny_model_config_fits_the_tokenizer():
    config = load_model_config("configs/model/world-tiny.yaml")
    assert config.vocab_size == WORLD_VOCAB_SIZE
    assert (config.eos_token_id, config.pad_token_id, config.bos_token_id) == (
        IM_END_ID,
        ENDOFTEXT_ID,
        ENDOFTEXT_ID,
    )


def test_a_qwen2_model_directory_loads_it_with_the_same_encodings(tokenizer, world, tmp_path):
    # AutoTokenizer loads any tokenizer in a `model_type: qwen2` directory (every policy and reward model this
    # project writes) as transformers' Qwen2Tokenizer, which rebuilds the normaliser and pre-tokenizer: the
    # world tokenizer must encode there exactly as it was trained.
    from transformers import AutoTokenizer, Qwen2Config

    tokenizer.save_pretrained(str(tmp_path))
    Qwen2Config(vocab_size=WORLD_VOCAB_SIZE).save_pretrained(str(tmp_path))
    loaded = AutoTokenizer.from_pretrained(str(tmp_path))
    assert type(loaded).__name__ == "Qwen2Tokenizer"
    for problem in world.train[:: max(1, len(world.train) // 60)]:
        messages = sft_messages(problem)
        assert loaded.apply_chat_template(messages) == tokenizer.apply_chat_template(messages)
        text = problem.question + "\n" + "\n".join(problem.tests)
        expected = tokenizer.encode(text, add_special_tokens=False)
        assert loaded.encode(text, add_special_tokens=False) == expected
