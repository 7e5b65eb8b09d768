"""The openai backend against a real local OpenAI-compatible HTTP server with scripted replies."""

import json
import socket

from fixtures.data_gen.support import FIXTURES, ScriptedOpenAIServer, read_rows

from acecoder_jax.common import prompts
from data_gen import cli

SEEDS = FIXTURES / "seeds.jsonl"
GOOD = {"question": "Return a + b.", "tests": [f"assert add_numbers({i}, 1) == {i + 1}" for i in range(6)]}


def _synth_args(url, output, *extra):
    return [
        "--input", str(SEEDS), "--output", str(output), "--backend", "openai", "--base-url", url,
        "--retry-base-s", "0.01", "--no-progress", *extra,
    ]  # fmt: skip


def test_synth_tests_parses_fenced_truncated_and_garbage_replies_with_retries(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    truncated = json.dumps(GOOD)[:-2]  # cut before "]}"
    script = [
        ("def add_numbers", [{"content": "```json\n" + json.dumps(GOOD) + "\n```"}]),
        ("def is_palindrome", [{"content": truncated}]),
        ("def running_sum", [{"status": 429}, {"content": json.dumps(GOOD)}]),
        ("def fizzbuzz", [{"content": "I cannot help with that."}]),
        ("def count_vowels", [{"status": 500}, {"status": 503}, {"content": json.dumps(GOOD)}]),
        ("def max_subarray", [{"content": json.dumps(GOOD)}]),
    ]
    output = tmp_path / "synth.jsonl"
    with ScriptedOpenAIServer(script, api_key="sk-test") as server:
        assert cli.synth_tests(_synth_args(server.url, output, "--concurrency", "3")) == 0
    rows = {r["id"]: r for r in read_rows(output)}
    assert sorted(rows) == ["evol_0", "oss_2", "oss_5", "stack_1", "stack_4"]
    assert all(r["question"] == GOOD["question"] and r["tests"] == GOOD["tests"] for r in rows.values())
    assert rows["stack_1"]["synth_repaired"] and not rows["evol_0"]["synth_repaired"]
    (failed,) = read_rows(tmp_path / "synth.rejected.jsonl")
    assert failed["id"] == "evol_3" and failed["reason"] == "no parseable JSON in reply"
    assert failed["reply"] == "I cannot help with that."
    # 6 seeds + one 429 retry + two 5xx retries
    assert len(server.requests) == 9
    first = next(r for r in server.requests if "def add_numbers" in r["messages"][1]["content"])
    seed = read_rows(SEEDS)[0]
    assert first["messages"] == prompts.synthesis_chat(seed["program"], seed["instruction"])
    assert (first["model"], first["temperature"], first["max_tokens"]) == ("gpt-4o-mini", 0.7, 8192)
    assert first["response_format"] == {"type": "json_object"}
    err = capsys.readouterr().err
    assert "6 requests, 3 retries" in err and "cost $" in err


def test_rerun_requests_nothing_already_answered(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    script = [("def ", [{"content": json.dumps(GOOD)}])]
    output = tmp_path / "synth.jsonl"
    with ScriptedOpenAIServer(script) as server:
        assert cli.synth_tests(_synth_args(server.url, output)) == 0
        assert cli.synth_tests(_synth_args(server.url, output)) == 0
    assert len(server.requests) == 6 and len(read_rows(output)) == 6


def test_unreachable_endpoint_is_named_and_written_rows_survive(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    output = tmp_path / "synth.jsonl"
    first_two = tmp_path / "two.jsonl"
    first_two.write_text("".join(SEEDS.read_text().splitlines(keepends=True)[:2]))
    with ScriptedOpenAIServer([("def ", [{"content": json.dumps(GOOD)}])]) as server:
        args = _synth_args(server.url, output)
        args[1] = str(first_two)
        assert cli.synth_tests(args) == 0
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    code = cli.synth_tests(_synth_args(dead, output, "--max-retries", "1"))
    err = capsys.readouterr().err
    assert code == 1
    assert f"{dead}: giving up after 2 attempts: cannot connect" in err
    assert [r["id"] for r in read_rows(output)] == ["evol_0", "stack_1"]


def test_bad_key_and_persistent_server_errors_fail_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with ScriptedOpenAIServer([("def ", [{"content": json.dumps(GOOD)}])], api_key="sk-right") as server:
        assert cli.synth_tests(_synth_args(server.url, tmp_path / "a.jsonl")) == 1
        assert f"{server.url}: the API key was rejected (HTTP 401)" in capsys.readouterr().err
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with ScriptedOpenAIServer([("def ", [{"status": 500}])]) as server:
        assert cli.synth_tests(_synth_args(server.url, tmp_path / "b.jsonl", "--max-retries", "2")) == 1
        assert "giving up after 3 attempts: HTTP 500" in capsys.readouterr().err
    assert read_rows(tmp_path / "b.jsonl") == []
    monkeypatch.delenv("OPENAI_API_KEY")
    assert (
        cli.synth_tests(["--input", str(SEEDS), "--output", str(tmp_path / "c.jsonl"), "--no-progress"]) == 1
    )
    assert "no API key; set $OPENAI_API_KEY" in capsys.readouterr().err


def test_filter_tests_with_a_model_oracle_continues_the_sampling_prefill(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    tests = [f"assert add_numbers({i}, 2) == {i + 2}" for i in range(5)] + ["assert add_numbers(1, 1) == 3"]
    row = {"id": "q", "question": "Add two numbers.", "tests": tests}
    source = tmp_path / "synth.jsonl"
    source.write_text(json.dumps(row) + "\n")
    reply = "\ndef add_numbers(a, b):\n    return a + b\n```\n\nThe function adds its arguments."
    with ScriptedOpenAIServer([("Add two numbers.", [{"content": reply}])]) as server:
        args = [
            "--input",
            str(source),
            "--output",
            str(tmp_path / "out.jsonl"),
            "--backend",
            "openai",
            "--timeout-s",
            "10",
        ]
        assert cli.filter_tests([*args, "--base-url", server.url, "--model", "oracle", "--no-progress"]) == 0
    (request,) = server.requests
    assert request["messages"] == prompts.sampling_chat_with_prefill(row["question"], tests)
    assert request["continue_final_message"] is True and request["add_generation_prompt"] is False
    assert (request["temperature"], request["max_tokens"], request["n"]) == (0.0, 1024, 1)
    (kept,) = read_rows(tmp_path / "out.jsonl")
    assert kept["oracle_solution"] == "def add_numbers(a, b):\n    return a + b"
    assert kept["tests"] == tests[:5]
