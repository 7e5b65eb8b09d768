"""Shared by the row loaders (preference pairs, SFT chats): bad-row accounting and the tokenization cache key.

A loader checks each row; `on_bad_row="fail"` raises at the first bad one (the message names file, row and
field), `"skip"` drops it and counts it by reason in a `BadRowReport`.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
from pathlib import Path
from typing import Any


@dataclasses.dataclass
class BadRowReport:
    """Rows skipped (with `on_bad_row="skip"`), counted by reason; a few examples kept for the log."""

    counts: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    examples: list[str] = dataclasses.field(default_factory=list)

    def add(self, reason: str, message: str) -> None:
        """Count one skipped row."""
        self.counts[reason] += 1
        if len(self.examples) < 20:
            self.examples.append(message)

    @property
    def total(self) -> int:
        """Number of rows skipped."""
        return sum(self.counts.values())


def reject_row(
    report: BadRowReport, on_bad_row: str, reason: str, message: str, error: type[ValueError]
) -> None:
    """Raise `error(message)` (on_bad_row="fail") or count the row in `report` ("skip")."""
    if on_bad_row == "fail":
        raise error(message + " (set data.on_bad_row=skip to skip and count such rows)")
    report.add(reason, message)


def cache_key(paths: list[Path], tokenizer: Any, *settings: Any) -> str:
    """A short digest of the input files (path, size, mtime), the tokenizer and the loader's settings."""
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    digest.update(f"{getattr(tokenizer, 'name_or_path', '')}|{len(tokenizer)}|{settings}".encode())
    return digest.hexdigest()[:16]
