"""Per-problem rows of an eval run directory: their key, and resuming a stage that writes one per problem."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from executor.jsonl import ResumableJsonlWriter

from .benchmarks import Problem


def problem_key(problem: Problem) -> str:
    """The run-wide id of a problem (task ids repeat across HumanEval and HumanEval+)."""
    return f"{problem.benchmark}::{problem.task_id}"


@contextlib.contextmanager
def pending_problems(
    problems: Sequence[Problem], out_path: Path, desc: str
) -> Iterator[tuple[list[Problem], Callable[[dict[str, Any]], None]]]:
    """The problems with no row in `out_path` yet, and `write(row)`: append one's row, advance the bar."""
    from tqdm import tqdm

    writer = ResumableJsonlWriter(out_path, key="id")
    todo = [p for p in problems if problem_key(p) not in writer.done]
    with writer, tqdm(total=len(todo), desc=desc, unit="problem") as progress:

        def write(row: dict[str, Any]) -> None:
            writer.write(row)
            progress.update(1)

        yield todo, write
