"""MBPP in its original JSONL form (`text`, `code`, `test_list`, `test_setup_code`) from a local path."""

from __future__ import annotations

from pathlib import Path

from .problem import Problem, read_rows, require


def load_mbpp(path: str | Path, benchmark: str = "mbpp") -> list[Problem]:
    """MBPP problems; the prompt is the task text followed by its tests, as in the MBPP paper."""
    problems = []
    for where, row in read_rows(path):
        task_id = row.get("task_id")
        if not isinstance(task_id, int | str):
            raise ValueError(f"{where}: field 'task_id' must be an int or str")
        text = require(row, "text", str, where)
        tests = require(row, "test_list", list, where)
        if not tests or not all(isinstance(t, str) for t in tests):
            raise ValueError(f"{where}: field 'test_list' must be a non-empty list of assert strings")
        setup = row.get("test_setup_code") or ""
        code = row.get("code")
        problems.append(
            Problem(
                task_id=f"Mbpp/{task_id}",
                benchmark=benchmark,
                kind="mbpp",
                prompt=f"{text}\nYour code should pass these tests:\n\n" + "\n".join(tests),
                tests=tuple(tests),
                setup=setup,
                canonical_solution=code if isinstance(code, str) else None,
            )
        )
    return problems
