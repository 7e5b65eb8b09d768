"""AceCode-87K rows (`id`, `question`, `test_cases`) as a benchmark, e.g. the policy world's held-out split.

The prompt is what `acecoder sample` shows a policy: the question and its first two tests in a docstring
block, so `instruction(problem)` equals `prompts.sampling_instruction(question, tests)`. A row's `reference`
(the world has one) is the canonical solution that checks the wiring.
"""

from __future__ import annotations

from pathlib import Path

from acecoder_jax.common.prompts import SAMPLING_TEST_COUNT

from .problem import Problem, read_rows, require


def load_acecode(path: str | Path, benchmark: str = "acecode") -> list[Problem]:
    """One problem per AceCode-87K row; every test case is an assert the candidate must pass."""
    problems = []
    for where, row in read_rows(path):
        task_id = require(row, "id", str, where)
        question = require(row, "question", str, where)
        tests = require(row, "test_cases", list, where)
        if not tests or not all(isinstance(t, str) for t in tests):
            raise ValueError(f"{where}: field 'test_cases' must be a non-empty list of assert strings")
        shown = "\n".join(tests[:SAMPLING_TEST_COUNT])
        reference = row.get("reference")
        problems.append(
            Problem(
                task_id=task_id,
                benchmark=benchmark,
                kind="acecode",
                prompt=f'"""\n{question}\n{shown}\n"""',
                tests=tuple(tests),
                canonical_solution=reference if isinstance(reference, str) else None,
            )
        )
    return problems
