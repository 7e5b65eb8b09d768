"""One benchmark problem in the shape every loader returns and the best-of-N pipeline consumes."""

from __future__ import annotations

import dataclasses
import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Test forms the executor accepts: assert strings, whole multi-line test code, or stdin/stdout dicts.
Test = str | dict[str, str]


@dataclasses.dataclass(frozen=True)
class Problem:
    """A coding problem: what the model sees, how a candidate program is assembled, and its tests."""

    task_id: str
    benchmark: str  # the name reports use (e.g. "humaneval_plus")
    kind: str  # the loader (benchmarks.KINDS)
    # The problem text: a function signature + docstring (HumanEval-style) or a natural-language question.
    prompt: str
    tests: tuple[Test, ...]
    # HumanEval-style problems can be completed by a base model: program = prompt + completion.
    completable: bool = False
    entry_point: str | None = None
    # Starter code shown to the model (LiveCodeBench functional problems).
    starter_code: str = ""
    # Code placed before every candidate program (MBPP's test_setup_code, the prompt's imports).
    setup: str = ""
    # A reference program, used to check the benchmark wiring (canonical solutions must score 100%).
    canonical_solution: str | None = None
    stdio: bool = False

    def program(self, code: str) -> str:
        """The program the executor runs for candidate `code`."""
        return f"{self.setup}\n{code}" if self.setup else code


def import_lines(prompt: str) -> str:
    """The top-level import lines of a prompt (a chat model's answer often leaves them out)."""
    lines = [line for line in prompt.splitlines() if re.match(r"^(import |from \S+ import )", line)]
    return "\n".join(lines)


def check_call_test(test_code: str, entry_point: str) -> str:
    """HumanEval-style `def check(candidate)` code made into a runnable test: call it on the entry point."""
    return f"{test_code.rstrip()}\n\ncheck({entry_point})\n"


def require(row: dict[str, Any], field: str, kind: type | tuple[type, ...], where: str) -> Any:
    """row[field] with a clear error naming the file:line and field (the project's one JSONL check)."""
    from executor.jsonl import require_field

    return require_field(row, field, kind, where)


def read_rows(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (`file:line`, row) from .jsonl, .jsonl.gz or .parquet; bad lines raise JsonlError naming them."""
    from acecoder_jax.common.rows import iter_rows
    from executor.jsonl import parse_jsonl_line

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: benchmark file not found")
    if path.suffix != ".gz":
        yield from iter_rows(path)  # .jsonl and .parquet
        return
    with gzip.open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield f"{path}:{line_number}", parse_jsonl_line(raw, path, line_number)
