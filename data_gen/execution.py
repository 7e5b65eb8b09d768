"""How data_gen runs programs against tests: the project's sandboxed executor, configured in one place."""

from __future__ import annotations

import dataclasses
import os
from typing import Any


@dataclasses.dataclass
class ExecutorConfig:
    """Executor settings for filter-tests, score and test-strength."""

    workers: int = 0  # 0 = one per CPU core
    timeout_s: float = 5.0  # per test
    memory_mb: int = 1024  # per program
    ray: str | None = None  # a Ray cluster address (auto, HOST:PORT): judge on every node (docs/scale_out.md)


def open_executor(config: ExecutorConfig) -> Any:
    """An `executor.Executor` (a context manager) with these settings; a RayExecutor when `ray` is set."""
    from executor import Executor

    if config.ray:
        from executor.ray_pool import RayExecutor

        return RayExecutor(config.ray, timeout_s=config.timeout_s, memory_mb=config.memory_mb)
    workers = config.workers if config.workers > 0 else (os.cpu_count() or 1)
    return Executor(workers=workers, timeout_s=config.timeout_s, memory_mb=config.memory_mb)


def make_job(job_id: str, program: str, tests: list[Any]) -> Any:
    """An `executor.Job`."""
    from executor import Job

    return Job(id=job_id, program=program, tests=list(tests))


def passed_flags(result: Any) -> list[bool]:
    """Per test: did it pass? (only the outcome "pass" counts)."""
    return [t.outcome == "pass" for t in result.tests]
