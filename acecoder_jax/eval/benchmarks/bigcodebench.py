"""BigCodeBench (complete or instruct split) from a local JSONL/parquet release file: unittest-based tests.

Each `test_*` method of the task's `TestCases` becomes one executor test (the whole unittest module plus a
runner for that method), so a candidate's pass rate counts methods, as BigCodeBench reports them.
"""

from __future__ import annotations

import ast
from pathlib import Path

from executor.ast_guard import parse

from .problem import Problem, import_lines, read_rows, require

_RUNNER = """

import io as _io
import unittest as _unittest

_result = _unittest.TextTestRunner(stream=_io.StringIO(), verbosity=0).run(
    _unittest.TestSuite([TestCases({method!r})])
)
assert _result.wasSuccessful(), [text for _, text in _result.failures + _result.errors][:1]
"""


def load_bigcodebench(path: str | Path, benchmark: str, split: str = "complete") -> list[Problem]:
    """BigCodeBench problems; `split` "complete" (docstring completion) or "instruct" (NL instruction)."""
    if split not in ("complete", "instruct"):
        raise ValueError(f"BigCodeBench split must be complete or instruct, got {split!r}")
    problems = []
    for where, row in read_rows(path):
        task_id = require(row, "task_id", str, where)
        complete_prompt = require(row, "complete_prompt", str, where)
        test = require(row, "test", str, where)
        methods = _test_methods(test)
        if not methods:
            raise ValueError(f"{where}: field 'test' defines no TestCases.test_* methods")
        canonical = row.get("canonical_solution")
        problems.append(
            Problem(
                task_id=task_id,
                benchmark=benchmark,
                kind=f"bigcodebench_{split}",
                prompt=complete_prompt
                if split == "complete"
                else require(row, "instruct_prompt", str, where),
                tests=tuple(test + _RUNNER.format(method=method) for method in methods),
                completable=split == "complete",
                entry_point=row.get("entry_point") or "task_func",
                setup=import_lines(complete_prompt),
                canonical_solution=complete_prompt + canonical if isinstance(canonical, str) else None,
            )
        )
    return problems


def _test_methods(test: str) -> list[str]:
    """Names of the `test_*` methods of class TestCases (empty when the code does not parse)."""
    try:
        tree = parse(test)
    except SyntaxError:
        return []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "TestCases":
            return [f.name for f in node.body if isinstance(f, ast.FunctionDef) and f.name.startswith("test")]
    return []
