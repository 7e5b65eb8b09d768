"""What goes into the executor (Job) and what comes out (Result, TestResult): the ARCHITECTURE.md schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from executor.jsonl import JsonlError, require_field

OUTCOMES = ("pass", "fail", "error", "timeout", "memory", "crash", "skipped")
STATUSES = ("ok", "syntax_error", "load_error", "timeout", "memory", "crash")

Test = str | dict[str, str]


@dataclass(frozen=True)
class Job:
    """One program and its tests: assert strings, multi-line test code, or {"input", "output"} stdio cases."""

    id: Any
    program: str
    tests: list[Test]

    @classmethod
    def from_row(cls, row: dict[str, Any], where: str) -> Job:
        """Validate a JSONL row; errors name `where` (file:line) and the field."""
        job_id = require_field(row, "id", (str, int), where)
        program = require_field(row, "program", str, where)
        tests = require_field(row, "tests", list, where)
        for index, test in enumerate(tests):
            if isinstance(test, dict):
                for key in ("input", "output"):
                    if not isinstance(test.get(key), str):
                        raise JsonlError(f"{where}: field 'tests[{index}].{key}' must be a string")
            elif not isinstance(test, str):
                raise JsonlError(
                    f"{where}: field 'tests[{index}]' must be an assert string or an {{input, output}} object"
                )
        kinds = {isinstance(t, dict) for t in tests}
        if len(kinds) > 1:
            raise JsonlError(f"{where}: field 'tests' mixes stdin/stdout cases with assert tests")
        return cls(id=job_id, program=program, tests=list(tests))


@dataclass
class TestResult:
    """The verdict of one test; mode says which path judged it (split | whole | stdio)."""

    outcome: str
    error: str | None = None
    seconds: float = 0.0
    mode: str = "split"

    def to_dict(self) -> dict[str, Any]:
        """JSON form: outcome, error, seconds, mode."""
        return {
            "outcome": self.outcome,
            "error": self.error,
            "seconds": round(self.seconds, 6),
            "mode": self.mode,
        }


@dataclass
class Result:
    """The verdict of one job: status of the program, pass rate over the tests given, per-test results."""

    id: Any
    status: str
    pass_rate: float
    tests: list[TestResult] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> int:
        """Number of tests that passed."""
        return sum(t.outcome == "pass" for t in self.tests)

    def to_dict(self) -> dict[str, Any]:
        """The ARCHITECTURE.md result row ({id, status, pass_rate, tests}, plus error when loading failed)."""
        row = {
            "id": self.id,
            "status": self.status,
            "pass_rate": self.pass_rate,
            "tests": [t.to_dict() for t in self.tests],
        }
        if self.error is not None:
            row["error"] = self.error
        return row
