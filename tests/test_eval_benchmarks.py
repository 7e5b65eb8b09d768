"""Benchmark loaders, wired through the real executor: canonical solutions pass, wrong programs fail."""

import base64
import json
import pickle
import zlib
from pathlib import Path

import pytest

from acecoder_jax.eval.benchmarks import load_benchmark
from acecoder_jax.eval.execution import programs_for, run_programs
from executor.config import ExecutorConfig
from executor.jsonl import JsonlError

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
LOCAL = [
    ("humaneval_plus", FIXTURES / "HumanEvalPlus-mini.jsonl.gz"),
    ("mbpp_plus", FIXTURES / "MbppPlus-mini.jsonl"),
    ("mbpp", FIXTURES / "mbpp-mini.jsonl"),
    ("livecodebench", FIXTURES / "livecodebench-mini.jsonl"),
    ("bigcodebench_complete", FIXTURES / "bigcodebench-mini.jsonl"),
    ("bigcodebench_instruct", FIXTURES / "bigcodebench-mini.jsonl"),
]
EXECUTOR = ExecutorConfig(workers=2, timeout_s=10.0)


def _pass_rates(problems, programs):
    jobs = [(f"{p.benchmark}::{p.task_id}", program, p.tests) for p, program in zip(problems, programs)]
    rates = run_programs(jobs, EXECUTOR)
    return {job_id: rate for job_id, rate in rates.items()}


def test_humaneval_canonical_solutions_score_100_percent():
    problems = load_benchmark("humaneval")
    assert len(problems) == 164
    rates = _pass_rates(problems, [p.program(p.canonical_solution) for p in problems])
    failed = {k: v for k, v in rates.items() if v != 1.0}
    assert not failed


def test_canonical_solutions_of_every_local_format_pass_and_wrong_ones_fail():
    problems = [p for kind, path in LOCAL for p in load_benchmark(kind, path)]
    assert {p.kind for p in problems} == {kind for kind, _ in LOCAL}
    bigcodebench = next(p for p in problems if p.kind == "bigcodebench_complete")
    assert len(bigcodebench.tests) == 4  # one executor test per unittest method
    right = _pass_rates(problems, [p.program(p.canonical_solution) for p in problems])
    assert set(right.values()) == {1.0}, right
    wrong_code = []
    for p in problems:
        if p.stdio:
            wrong_code.append("print(0)")
        elif p.kind == "livecodebench":
            wrong_code.append("class Solution:\n    def countPairs(self, nums, target):\n        return 1\n")
        else:
            wrong_code.append(f"def {p.entry_point}(*args):\n    return None\n")
    wrong = _pass_rates(problems, [p.program(code) for p, code in zip(problems, wrong_code)])
    assert all(rate < 1.0 for rate in wrong.values()), wrong


def test_chat_answers_are_extracted_and_get_the_prompt_imports():
    problem = load_benchmark("humaneval")[0]  # the prompt imports `List` from typing
    body = problem.canonical_solution[len(problem.prompt) :]
    signature = next(line for line in problem.prompt.splitlines() if line.startswith("def "))
    completion = f"\n{signature}\n{body}```\nThis works because ..."
    (program,) = programs_for(problem, "chat", [completion])
    assert program.startswith("from typing import List") and "This works" not in program
    assert _pass_rates([problem], [program]) == {f"humaneval::{problem.task_id}": 1.0}
    # Base-model completions continue the prompt itself.
    (program,) = programs_for(problem, "base", [body + "\n\ndef helper(:\n"])  # cut at the stop string
    assert _pass_rates([problem], [program]) == {f"humaneval::{problem.task_id}": 1.0}


def test_livecodebench_tests_from_json_and_compressed_private_cases():
    functional, stdio = load_benchmark("livecodebench", FIXTURES / "livecodebench-mini.jsonl")
    assert functional.tests == (
        "assert Solution().countPairs([1, 2, 3, 4], 5) == 2",
        "assert Solution().countPairs([], 0) == 0",
        "assert Solution().countPairs([2, 2, 2], 4) == 3",
    )
    assert stdio.stdio and stdio.tests == (
        {"input": "3\n1 2 3\n", "output": "6\n"},
        {"input": "1\n-5\n", "output": "-5\n"},
    )


def test_livecodebench_private_cases_cannot_smuggle_objects(tmp_path):
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    packed = base64.b64encode(zlib.compress(pickle.dumps(Boom()))).decode()
    row = {
        "question_id": "1",
        "question_content": "q",
        "public_test_cases": "[]",
        "private_test_cases": packed,
    }
    path = tmp_path / "lcb.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(
        JsonlError, match=r"lcb.jsonl:1: field 'private_test_cases'.*refusing to load builtins.print"
    ):
        load_benchmark("livecodebench", path)


def test_bad_rows_name_file_line_and_field(tmp_path):
    path = tmp_path / "mbpp.jsonl"
    path.write_text(
        json.dumps({"task_id": 1, "text": "t", "test_list": ["assert f() == 1"]})
        + "\n"
        + json.dumps({"task_id": 2, "test_list": []})
        + "\n"
    )
    with pytest.raises(JsonlError, match=r"mbpp.jsonl:2: missing field 'text'"):
        load_benchmark("mbpp", path)
    plus = tmp_path / "plus.jsonl"
    plus.write_text(json.dumps({"task_id": "HumanEval/0", "prompt": "def f():\n", "entry_point": "f"}) + "\n")
    with pytest.raises(JsonlError, match=r"plus.jsonl:1: missing field 'test'"):
        load_benchmark("humaneval_plus", plus)
    with pytest.raises(ValueError, match="needs a local path"):
        load_benchmark("mbpp")
    with pytest.raises(ValueError, match="unknown benchmark kind"):
        load_benchmark("bigcodebench", plus)
