"""JSON repair of synthesis replies, shard assignment, and reading released rows as they are."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from acecoder_jax.common.schemas import iter_acecode, iter_acecode_pairs, iter_seeds
from data_gen.json_repair import parse_incomplete_json, parse_synthesis_reply
from data_gen.row_shards import parse_shard, shard_of
from executor.jsonl import JsonlError

REPLY = {"question": "Return the sum.", "tests": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]}


def test_fenced_and_plain_json_parse():
    fenced = "Here:\n```json\n" + json.dumps(REPLY) + "\n```\nDone."
    parsed = parse_synthesis_reply(fenced)
    assert parsed.ok and parsed.question == "Return the sum." and parsed.tests == REPLY["tests"]
    assert not parsed.repaired
    assert parse_incomplete_json(json.dumps(REPLY)) == REPLY


def test_reply_cut_before_closing_brackets_is_repaired_dropping_the_torn_test():
    text = json.dumps(REPLY)
    cut = text[: -len("]}")] + ', "assert add(5, '  # torn third test
    parsed = parse_synthesis_reply(cut)
    assert parsed.ok and parsed.repaired
    assert parsed.tests == REPLY["tests"]
    assert parse_incomplete_json(text[:-2]) == REPLY  # exactly "cut before ]}"


def test_unusable_replies_say_why():
    assert parse_incomplete_json("no json here") == {"question": None, "tests": None}
    assert parse_synthesis_reply("no json here").error == "no parseable JSON in reply"
    assert parse_synthesis_reply("").error == "empty reply"
    assert "not an object" in parse_synthesis_reply("[1, 2]").error
    assert "no string 'question'" in parse_synthesis_reply('{"tests": ["assert 1"]}').error
    assert "no 'tests' list" in parse_synthesis_reply('{"question": "q", "tests": "assert 1"}').error
    assert "no string tests" in parse_synthesis_reply('{"question": "q", "tests": [1, 2]}').error
    mixed = parse_synthesis_reply('{"question": "q", "tests": ["assert 1", 7, ""]}')
    assert mixed.ok and mixed.tests == ["assert 1"]


def test_shards_partition_ids_deterministically():
    ids = [f"q{i}" for i in range(200)] + list(range(50))
    owners = [[s for s in range(4) if parse_shard(f"{s}/4").owns(i)] for i in ids]
    assert all(len(o) == 1 for o in owners)  # every id in exactly one shard
    assert {o[0] for o in owners} == {0, 1, 2, 3}
    assert [shard_of(i, 4) for i in ids] == [shard_of(i, 4) for i in ids]
    assert shard_of("q7", 4) == int.from_bytes(__import__("hashlib").sha256(b"q7").digest()[:8], "big") % 4
    assert parse_shard(None).owns("anything")
    for bad in ("3", "4/4", "-1/2", "a/b", "1/0"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def _released_acecode_row():
    # Shaped like a TIGER-Lab/AceCode-87K row: string id, integer pass rates, extra models.
    return {
        "id": "oss_12",
        "source": "oss",
        "question": "Q",
        "test_cases": ["assert f(1) == 1"],
        "inferences": [
            {
                "model_name": "qwen_coder_2.5",
                "completion_id": 0,
                "completion": "def f(x): return x",
                "pass_rate": 1,
            },
            {
                "model_name": "llama3_instruct",
                "completion_id": 1,
                "completion": "def f(x): pass",
                "pass_rate": 0.0,
            },
        ],
        "context_messages": [{"content": "Q", "role": "user"}],
    }


def test_released_rows_read_as_is_from_jsonl_and_parquet(tmp_path):
    row = _released_acecode_row()
    jsonl = tmp_path / "acecode.jsonl"
    jsonl.write_text(json.dumps(row) + "\n")
    parquet = tmp_path / "acecode.parquet"
    pq.write_table(pa.Table.from_pylist([row]), parquet)
    for path in (jsonl, parquet):
        (parsed,) = list(iter_acecode(path))
        assert parsed.id == "oss_12" and parsed.inferences[0].pass_rate == 1.0
        assert parsed.to_dict()["inferences"][1]["model_name"] == "llama3_instruct"
    pair = {"id": 7, "instruction": "i", "input": "", "chosen": "c", "rejected": "r"}
    (tmp_path / "pairs.jsonl").write_text(json.dumps(pair) + "\n")
    (parsed_pair,) = list(iter_acecode_pairs(tmp_path / "pairs.jsonl"))
    assert parsed_pair.to_dict() == pair


def test_bad_rows_name_file_line_and_field(tmp_path):
    bad = _released_acecode_row()
    bad["inferences"][1]["pass_rate"] = "high"
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_released_acecode_row()) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(JsonlError, match=r"bad\.jsonl:2: inferences\[1\]: field 'pass_rate'"):
        list(iter_acecode(path))
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text('{"id": 1, "program": "x = 1"}\n{"id": 2}\n')
    with pytest.raises(JsonlError, match=r"seeds\.jsonl:2: missing field 'program'"):
        list(iter_seeds(seeds))
    seeds.write_bytes(b'{"id": 1, "program": "\xff"}\n')
    with pytest.raises(JsonlError, match=r"seeds\.jsonl:1: not valid UTF-8"):
        list(iter_seeds(seeds))
