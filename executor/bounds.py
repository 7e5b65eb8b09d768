"""Bounds on text that comes from a program: each error string, and all error text of one result together.

Error messages are the program's to choose (an exception's text, its type's name, a module name, a forged
reply), and a load error is copied into every test of its job: `raise ModuleNotFoundError('x', name='A' *
15_000_000)` with 100 tests made a 1.5 GB result line (red-team round 2, #4). The worker clips every string
a child sends (replies.py) and the pool clips every error of a result again under one budget (pool.py).
"""

from __future__ import annotations

ERROR_CHARS = 1000  # one error message: about 1 KB
RESULT_ERROR_CHARS = 64_000  # all error messages of one result; past it each error keeps SPENT_ERROR_CHARS
SPENT_ERROR_CHARS = 100


def clip(text: str, limit: int = ERROR_CHARS) -> str:
    """`text` cut to `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


class ErrorBudget:
    """Clips the errors of one result: each to ERROR_CHARS, and shorter once their total is spent."""

    def __init__(self, total: int = RESULT_ERROR_CHARS) -> None:
        self.left = total

    def __call__(self, text: str | None) -> str | None:
        """`text` clipped to what the budget allows (None stays None)."""
        if text is None:
            return None
        text = clip(str(text), ERROR_CHARS if self.left > 0 else SPENT_ERROR_CHARS)
        self.left -= len(text)
        return text
