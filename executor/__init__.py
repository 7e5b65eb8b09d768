"""Sandboxed, unforgeable test execution: `from executor import Executor, Job, Result`.

Standard library (+ psutil in tests) only; imports neither jax nor torch. Names are loaded lazily so that
worker processes (`executor.worker`) stay small: every MiB they import is paid again on each fork.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from executor.job import Job, Result, TestResult
    from executor.pool import Executor

__all__ = ["Executor", "Job", "Result", "TestResult"]


def __getattr__(name: str) -> Any:
    if name in ("Job", "Result", "TestResult"):
        from executor import job

        return getattr(job, name)
    if name == "Executor":
        from executor.pool import Executor

        return Executor
    raise AttributeError(f"module 'executor' has no attribute {name!r}")
