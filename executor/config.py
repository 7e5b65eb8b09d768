"""`ExecutorConfig`: how filter-tests, score, test-strength and best-of-N run programs, in one place."""

from __future__ import annotations

import dataclasses
import os
from typing import Any


@dataclasses.dataclass
class ExecutorConfig:
    """The executor section of a data or eval config; `open_executor` turns it into a running pool."""

    workers: int = 0  # 0 = one per CPU core
    timeout_s: float = 5.0  # per test
    memory_mb: int = 1024  # per program
    ray: str | None = None  # a Ray cluster address (auto, HOST:PORT): judge on every node (docs/scale_out.md)


def open_executor(config: ExecutorConfig) -> Any:
    """An `executor.Executor` (a context manager) with these settings; a RayExecutor when `ray` is set."""
    from executor.pool import Executor

    if config.ray:
        from executor.ray_pool import RayExecutor

        return RayExecutor(config.ray, timeout_s=config.timeout_s, memory_mb=config.memory_mb)
    workers = config.workers if config.workers > 0 else (os.cpu_count() or 1)
    return Executor(workers=workers, timeout_s=config.timeout_s, memory_mb=config.memory_mb)
