"""Every streaming stage, SIGKILLed mid-run and rerun, ends with exactly an uninterrupted run's output."""

import json
import time

from fixtures.data_gen.support import (
    FIXTURES,
    ScriptedOpenAIServer,
    acecoder,
    complete_lines,
    read_rows,
    run_and_kill,
)

from data_gen import cli

GOOD = {"question": "Return a + b.", "tests": [f"assert add_numbers({i}, 1) == {i + 1}" for i in range(6)]}
EXECUTOR_FLAGS = ["--workers", "1", "--timeout-s", "10", "--no-progress"]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _outputs(path):
    rejected = path.with_name(path.name.replace(".jsonl", ".rejected.jsonl"))
    return read_rows(path), read_rows(rejected)


def test_synth_tests_killed_and_resumed_requests_only_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    script = [("def fizzbuzz", [{"content": "garbage"}]), ("def ", [{"content": json.dumps(GOOD)}])]
    seeds = str(FIXTURES / "seeds.jsonl")
    with ScriptedOpenAIServer(script, delay_s=0.4) as server:
        flags = ["--base-url", server.url, "--batch-size", "1", "--concurrency", "1", "--no-progress"]
        killed = tmp_path / "killed.jsonl"
        seen = run_and_kill(
            acecoder("synth-tests", "--input", seeds, "--output", str(killed), *flags), killed, 2
        )
        done_before = seen + complete_lines(tmp_path / "killed.rejected.jsonl")
        assert done_before < 6  # the kill landed mid-run
        time.sleep(0.2)  # let a request sent just before the kill reach the server's log
        requests_before = len(server.requests)
        assert cli.synth_tests(["--input", seeds, "--output", str(killed), *flags]) == 0
        # only unfinished seeds are asked again (the one in flight at the kill had no answer written)
        assert len(server.requests) - requests_before == 6 - done_before
        clean = tmp_path / "clean.jsonl"
        assert cli.synth_tests(["--input", seeds, "--output", str(clean), *flags]) == 0
    assert _outputs(killed) == _outputs(clean)
    assert len(_outputs(killed)[0]) == 5


def _slow_rows(count):
    # Each program sleeps while it loads, so the stage is still running when it is killed.
    program = "import time\ntime.sleep(0.3)\ndef inc(x):\n    return x + 1 if x < {k} else 0"
    tests = [f"assert inc({i}) == {i + 1}" for i in range(6)]
    return [
        {
            "id": f"q{i}",
            "question": "Increment.",
            "tests": tests,
            "original_tests": tests,
            "sol": program.format(k=i % 3 + 3),  # passes 3, 4 or 5 tests
            "model_name": "m",
            "samples": [{"completion_id": 0, "completion": program.format(k=i + 1)}],  # passes i + 1
        }
        for i in range(6)
    ]


def test_filter_tests_killed_and_resumed(tmp_path):
    source = _write(tmp_path / "in.jsonl", _slow_rows(6))
    killed, clean = tmp_path / "killed.jsonl", tmp_path / "clean.jsonl"
    args = ["--solution-field", "sol", "--batch-size", "1", *EXECUTOR_FLAGS]
    run_and_kill(acecoder("filter-tests", "--input", str(source), "--output", str(killed), *args),
                 tmp_path / "killed.rejected.jsonl", 1)  # fmt: skip
    assert complete_lines(killed) + complete_lines(tmp_path / "killed.rejected.jsonl") < 6
    assert cli.filter_tests(["--input", str(source), "--output", str(killed), *args]) == 0
    assert cli.filter_tests(["--input", str(source), "--output", str(clean), *args]) == 0
    assert _outputs(killed) == _outputs(clean)
    assert [len(r["tests"]) for r in _outputs(clean)[0]] == [5, 5]


def test_score_killed_and_resumed(tmp_path):
    source = _write(tmp_path / "samples.jsonl", _slow_rows(6))
    killed, clean = tmp_path / "killed.jsonl", tmp_path / "clean.jsonl"
    args = ["--batch-size", "1", *EXECUTOR_FLAGS]
    seen = run_and_kill(acecoder("score", "--input", str(source), "--output", str(killed), *args), killed, 2)
    assert seen < 6
    assert cli.score(["--input", str(source), "--output", str(killed), *args]) == 0
    assert cli.score(["--input", str(source), "--output", str(clean), *args]) == 0
    assert _outputs(killed) == _outputs(clean)
    assert [r["inferences"][0]["pass_rate"] for r in _outputs(clean)[0]] == [(i + 1) / 6 for i in range(6)]


def test_sample_killed_and_resumed(tmp_path):
    rows = [
        {"id": f"q{i}", "question": f"Problem {i}.", "tests": [f"assert f({i}) == {i}"]} for i in range(5)
    ]
    source = _write(tmp_path / "filtered.jsonl", rows)
    killed, clean = tmp_path / "killed.jsonl", tmp_path / "clean.jsonl"
    args = ["--backend", "transformers", "--model", "tiny-random-qwen2", "--device", "cpu", "--n", "2",
            "--max-tokens", "4", "--batch-size", "1", "--no-progress"]  # fmt: skip
    seen = run_and_kill(acecoder("sample", "--input", str(source), "--output", str(killed), *args), killed, 1)
    assert seen < 3
    assert cli.sample(["--input", str(source), "--output", str(killed), *args]) == 0
    assert cli.sample(["--input", str(source), "--output", str(clean), *args]) == 0
    assert _outputs(killed) == _outputs(clean)


def _acecode_rows():
    rates = [[1.0, 0.5, 0.0, 0.2], [0.9, 0.1], [0.0, 0.0], [1.0, 0.6, 0.3], [0.25, 0.75], [1.0, 1.0]]
    return [
        {
            "id": f"q{i}",
            "source": "s",
            "question": f"Question {i}.",
            "test_cases": ["assert f() == 1"],
            "inferences": [
                {"model_name": "m", "completion_id": j, "completion": f"prog {i}-{j}", "pass_rate": r}
                for j, r in enumerate(row)
            ],
        }
        for i, row in enumerate(rates)
    ]


def test_pairs_and_hard_subset_resume_after_a_torn_write(tmp_path):
    source = _write(tmp_path / "acecode.jsonl", _acecode_rows())
    for command in (cli.pairs, cli.hard_subset):
        clean, torn = (
            tmp_path / f"{command.__name__}_clean.jsonl",
            tmp_path / f"{command.__name__}_torn.jsonl",
        )
        assert command(["--input", str(source), "--output", str(clean), "--no-progress"]) == 0
        data = clean.read_bytes()
        assert data.count(b"\n") >= 2
        cut = data.index(b"\n") + 20  # one whole row, then a torn second
        torn.write_bytes(data[:cut])
        assert command(["--input", str(source), "--output", str(torn), "--no-progress"]) == 0
        assert torn.read_bytes() == data
