"""JSONL reading names bad lines; the resumable writer repairs torn tails and never loses rows."""

import json

import pytest

from executor.jsonl import JsonlError, ResumableJsonlWriter, iter_jsonl, require_field


def test_errors_name_file_and_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1}\n\n{"id": 2,\n')
    rows = iter_jsonl(path)
    assert next(rows) == (1, {"id": 1})
    with pytest.raises(JsonlError, match=r"in\.jsonl:3: malformed JSON"):
        next(rows)
    path.write_bytes(b'{"id": "\xff"}\n')
    with pytest.raises(JsonlError, match=r"in\.jsonl:1: not valid UTF-8"):
        list(iter_jsonl(path))
    path.write_bytes(b"[1, 2]\n")
    with pytest.raises(JsonlError, match=r"in\.jsonl:1: expected a JSON object"):
        list(iter_jsonl(path))
    with pytest.raises(JsonlError, match=r"f:9: missing field 'program'"):
        require_field({"id": 1}, "program", str, "f:9")
    with pytest.raises(JsonlError, match=r"f:9: field 'tests' must be list, got str"):
        require_field({"tests": "x"}, "tests", list, "f:9")


def test_writer_resumes_and_repairs_torn_tail(tmp_path):
    path = tmp_path / "out.jsonl"
    with ResumableJsonlWriter(path) as writer:
        writer.write({"id": "a", "v": 1})
        writer.write({"id": "b", "v": 2})
    with path.open("ab") as handle:  # a kill in the middle of a row
        handle.write(b'{"id": "c", "v"')
    writer = ResumableJsonlWriter(path)
    assert writer.repaired_bytes == len(b'{"id": "c", "v"')
    assert "a" in writer and "b" in writer and "c" not in writer
    writer.write({"id": "c", "v": 3})
    writer.close()
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["a", "b", "c"]


def test_writer_on_file_without_trailing_newline_only_drops_partial(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}')  # last row complete JSON but unterminated: treated as torn
    writer = ResumableJsonlWriter(path)
    assert writer.done == {1}
    writer.close()


def test_writer_survives_lone_surrogates(tmp_path):
    # An untrusted program can put a lone surrogate into an error message; writing must not crash or tear.
    path = tmp_path / "out.jsonl"
    with ResumableJsonlWriter(path) as writer:
        writer.write({"id": "a", "error": "bad " + chr(0xD800)})
        writer.write({"id": "b", "text": "héllo 世界"})
    assert "世界" in path.read_text(encoding="utf-8")  # ordinary text is not escaped
    rows = [row for _, row in iter_jsonl(path)]
    assert rows[0]["error"] == "bad " + chr(0xD800) and rows[1]["text"] == "héllo 世界"
