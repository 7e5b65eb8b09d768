"""SFT rows: chat-template formatting, the assistant-only loss mask, truncation, bad rows by file/row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from acecoder_jax.common.tokenizer import load_qwen25_tokenizer
from acecoder_jax.data.sft_format import chat_segments
from acecoder_jax.data.sft_tokenize import SFTDataError, encode_chats, load_sft
from acecoder_jax.world import build_world
from acecoder_jax.world.rows import sft_messages
from acecoder_jax.world.tokenizer import chat_corpus, train_world_tokenizer

CHAT = [
    {"role": "user", "content": "Write f(x) returning x + 1."},
    {"role": "assistant", "content": "```python\ndef f(x):\n    return x + 1\n```"},
]
MULTI = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "Add one."},
    {"role": "assistant", "content": "def f(x):\n    return x + 1"},
    {"role": "user", "content": "Now two."},
    {"role": "assistant", "content": "def f(x):\n    return x + 2"},
]


@pytest.fixture(scope="module", params=["qwen25", "world"])
def tokenizer(request):
    if request.param == "qwen25":
        return load_qwen25_tokenizer()
    return train_world_tokenizer(chat_corpus(sft_messages(p) for p in build_world(0).train))


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("chat", [CHAT, MULTI], ids=["one-turn", "multi-turn"])
def test_ids_are_the_chat_template_and_the_mask_is_assistant_content_plus_im_end(tokenizer, chat):
    [(ids, mask)] = encode_chats(tokenizer, [chat])
    rendered = tokenizer.apply_chat_template(chat, tokenize=False)
    assert tokenizer.decode(ids) == rendered
    assert list(ids) == tokenizer(rendered, add_special_tokens=False)["input_ids"]  # no boundary effects here
    # The trained tokens, run by run, are each assistant turn's content and its closing <|im_end|>.
    runs, current = [], []
    for token, trained in zip(ids, mask):
        if trained:
            current.append(int(token))
        elif current:
            runs.append(current)
            current = []
    assert not current  # the newline after the last <|im_end|> is not trained
    expected = [m["content"] + "<|im_end|>" for m in chat if m["role"] == "assistant"]
    assert [tokenizer.decode(run) for run in runs] == expected
    # Everything before the first trained token is the generation prompt, role header included.
    first = int(np.argmax(mask))
    before = [m["role"] for m in chat].index("assistant")
    prompt = tokenizer.apply_chat_template(chat[:before], tokenize=False, add_generation_prompt=True)
    assert tokenizer.decode(ids[:first]) == prompt


def test_segments_join_to_the_rendered_chat(tokenizer):
    segments = chat_segments(tokenizer, MULTI)
    assert "".join(text for text, _ in segments) == tokenizer.apply_chat_template(MULTI, tokenize=False)
    assert [trained for _, trained in segments] == [False, True, False, True, False]
    assert segments[1][0].endswith("<|im_end|>") and segments[-1][0] == "\n"


def test_prompt_completion_rows_equal_messages_rows(tmp_path, tokenizer):
    prompt, answer = CHAT[0]["content"], CHAT[1]["content"]
    rows = [
        {"messages": CHAT},
        {"prompt": prompt, "completion": answer},
        {"prompt": [CHAT[0]], "completion": [CHAT[1]]},
    ]
    data, report = load_sft(_write(tmp_path / "rows.jsonl", rows), tokenizer, 512)
    assert report.total == 0 and len(data) == 3
    for i in (1, 2):
        np.testing.assert_array_equal(data.ids(i), data.ids(0))
        np.testing.assert_array_equal(data.mask(i), data.mask(0))
    assert data.where == [f"{tmp_path / 'rows.jsonl'}:{n}" for n in (1, 2, 3)]


def test_parquet_rows_load_like_jsonl(tmp_path, tokenizer):
    rows = [{"prompt": f"q{i}", "completion": f"a{i}"} for i in range(4)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    from_parquet, _ = load_sft(tmp_path / "rows.parquet", tokenizer, 512)
    from_jsonl, _ = load_sft(_write(tmp_path / "rows.jsonl", rows), tokenizer, 512)
    np.testing.assert_array_equal(from_parquet.tokens, from_jsonl.tokens)
    np.testing.assert_array_equal(from_parquet.loss_mask, from_jsonl.loss_mask)
    assert from_parquet.where[2] == f"{tmp_path / 'rows.parquet'}:row 3"


BAD_ROWS = [
    ({"text": "hi"}, "missing_field", "missing field 'messages' (or 'prompt' and 'completion')"),
    ({"prompt": "hi"}, "missing_field", "missing field 'completion'"),
    ({"messages": CHAT, "prompt": "hi"}, "ambiguous", "has both 'messages' and 'prompt'/'completion'"),
    ({"messages": "hi"}, "bad_type", "field 'messages' must be a list of messages, got str"),
    ({"messages": [CHAT[0], "x"]}, "bad_type", "field 'messages'[1] must be an object, got str"),
    ({"messages": [{"role": "bot", "content": "x"}]}, "bad_role", "field 'messages'[0].role must be one of"),
    (
        {"messages": [{"role": "user", "content": 3}]},
        "bad_type",
        "field 'messages'[0].content must be a string",
    ),
    ({"prompt": 5, "completion": "a"}, "bad_type", "field 'prompt' must be a string or a list of messages"),
    ({"messages": [CHAT[0]]}, "no_assistant", "no assistant turn with content"),
    ({"messages": [CHAT[0], {"role": "assistant", "content": " "}]}, "no_assistant", "no assistant turn"),
    ({"messages": [CHAT[1], CHAT[0], CHAT[1]]}, "assistant_first", "the first message is an assistant turn"),
]


@pytest.mark.parametrize(("row", "reason", "needle"), BAD_ROWS, ids=[r for _, r, _ in BAD_ROWS])
def test_bad_rows_name_file_row_and_field(tmp_path, row, reason, needle):
    tokenizer = load_qwen25_tokenizer()
    path = _write(tmp_path / "rows.jsonl", [{"messages": CHAT}, row])
    with pytest.raises(SFTDataError) as err:
        load_sft(path, tokenizer, 512)
    assert f"{path}:2: " in str(err.value) and needle in str(err.value)
    assert "data.on_bad_row=skip" in str(err.value)
    data, report = load_sft(path, tokenizer, 512, on_bad_row="skip")
    assert len(data) == 1 and report.counts == {reason: 1} and f"{path}:2" in report.examples[0]


def test_truncation_none_rejects_and_left_keeps_the_answer_end(tmp_path, tokenizer):
    long_prompt = " ".join(f"word{i}" for i in range(300))
    path = _write(tmp_path / "rows.jsonl", [{"prompt": long_prompt, "completion": "short answer"}])
    with pytest.raises(SFTDataError, match=r"rows.jsonl:1: row is \d+ tokens, over data.max_length=64"):
        load_sft(path, tokenizer, 64)
    data, _ = load_sft(path, tokenizer, 64, truncation="left")
    chat = [{"role": "user", "content": long_prompt}, {"role": "assistant", "content": "short answer"}]
    [(full_ids, full_mask)] = encode_chats(tokenizer, [chat])
    assert len(data.ids(0)) == 64
    np.testing.assert_array_equal(data.ids(0), full_ids[-64:])
    np.testing.assert_array_equal(data.mask(0), full_mask[-64:])
    assert tokenizer.decode(data.ids(0)[data.mask(0) == 1]) == "short answer<|im_end|>"
    # An answer longer than max_length keeps its end; a row left without trained tokens is a bad row.
    path = _write(tmp_path / "long.jsonl", [{"messages": [*CHAT, {"role": "user", "content": long_prompt}]}])
    with pytest.raises(SFTDataError, match="no trained token left"):
        load_sft(path, tokenizer, 64, truncation="left")


def test_cache_returns_the_same_arrays(tmp_path, tokenizer):
    path = _write(tmp_path / "rows.jsonl", [{"messages": CHAT}, {"messages": MULTI}, {"text": "bad"}])
    first, report = load_sft(path, tokenizer, 512, on_bad_row="skip", cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("sft-*.npz"))) == 1
    second, report2 = load_sft(path, tokenizer, 512, on_bad_row="skip", cache_dir=tmp_path / "cache")
    for name in ("tokens", "loss_mask", "offsets"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert second.where == first.where and report2.counts == report.counts == {"missing_field": 1}
