"""How data_gen runs programs against tests: the sandboxed executor (settings: executor/config.py)."""

from __future__ import annotations

from typing import Any


def make_job(job_id: str, program: str, tests: list[Any]) -> Any:
    """An `executor.Job`."""
    from executor import Job

    return Job(id=job_id, program=program, tests=list(tests))


def passed_flags(result: Any) -> list[bool]:
    """Per test: did it pass? (only the outcome "pass" counts)."""
    return [t.outcome == "pass" for t in result.tests]
