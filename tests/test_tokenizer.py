"""The offline Qwen2.5 tokenizer produces the real Qwen2.5 ids and chat format."""

import subprocess
import sys

from acecoder_jax.common.tokenizer import (
    ENDOFTEXT_ID,
    IM_END_ID,
    IM_START_ID,
    load_qwen25_tokenizer,
    qwen25_tokenizer_dir,
)


def test_known_ids():
    tok = load_qwen25_tokenizer()
    assert tok("Hello world")["input_ids"] == [9707, 1879]
    assert tok.encode("def f(x):\n    return x + 12345\n") == [
        750, 282, 2075, 982, 262, 470, 856, 488, 220, 16, 17, 18, 19, 20, 198
    ]  # fmt: skip
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|file_sep|>"]) == [
        ENDOFTEXT_ID, IM_START_ID, IM_END_ID, 151664
    ]  # fmt: skip
    assert len(tok) == 151665
    assert tok.eos_token_id == IM_END_ID and tok.pad_token_id == ENDOFTEXT_ID


def test_chatml_template_matches_qwen25():
    tok = load_qwen25_tokenizer()
    chat = [{"role": "user", "content": "hi"}]
    text = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids[:3] == [IM_START_ID, 8948, 198] and ids[-3:] == [IM_START_ID, 77091, 198]
    with_system = tok.apply_chat_template(
        [{"role": "system", "content": "S"}, *chat, {"role": "assistant", "content": "A"}], tokenize=False
    )
    assert with_system == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n" + (
        "<|im_start|>assistant\nA<|im_end|>\n"
    )


def test_round_trip_and_special_tokens_not_split():
    tok = load_qwen25_tokenizer()
    text = "héllo 世界\n\tcode = [1, 2]  # ok <|im_end|>"
    ids = tok.encode(text)
    assert IM_END_ID in ids
    assert tok.decode(ids) == text


def test_directory_is_plain_hugging_face_and_jax_free():
    # transformers itself imports torch when it is installed; what we promise is no jax.
    path = qwen25_tokenizer_dir()
    assert (path / "tokenizer.json").is_file() and (path / "tokenizer_config.json").is_file()
    code = (
        "import sys; from transformers import AutoTokenizer; "
        "import acecoder_jax.common.tokenizer as t; "
        f"tok = AutoTokenizer.from_pretrained({str(path)!r}); "
        "assert tok.encode('Hello world') == [9707, 1879]; "
        "assert 'jax' not in sys.modules, 'the tokenizer pulled in jax'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
