"""A small tqdm-like progress line on stderr (the executor depends on the standard library only)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`done/total [elapsed<eta, rate/s] extra`, redrawn at most every `interval` seconds."""

    def __init__(
        self, total: int | None, desc: str = "exec", stream: TextIO | None = None, interval: float = 0.2
    ):
        self.total, self.desc, self.interval = total, desc, interval
        self.stream = stream or sys.stderr
        self.count = 0
        self.start = self.last = time.monotonic()
        self.extra = ""

    def update(self, n: int = 1, extra: str = "") -> None:
        """Count n more items and redraw if due."""
        self.count += n
        self.extra = extra or self.extra
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._draw(now, "\r")

    def close(self) -> None:
        """Draw the final line."""
        self._draw(time.monotonic(), "\r")
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, now: float, prefix: str) -> None:
        elapsed = now - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        if self.total:
            eta = (self.total - self.count) / rate if rate > 0 else 0.0
            head = f"{self.desc}: {100 * self.count / self.total:3.0f}% {self.count}/{self.total}"
            timing = f"[{_clock(elapsed)}<{_clock(eta)}, {rate:.1f}/s]"
        else:
            head, timing = f"{self.desc}: {self.count}", f"[{_clock(elapsed)}, {rate:.1f}/s]"
        self.stream.write(f"{prefix}{head} {timing} {self.extra}".rstrip())
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
