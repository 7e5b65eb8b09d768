"""One terminal progress line: step, loss, accuracy, tokens/s, MFU, ETA (rewritten in place on a TTY)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """Print `step/total` progress; on a TTY one line updated in place, else one line per update."""

    def __init__(
        self, total: int, start: int = 0, stream: TextIO | None = None, enabled: bool = True
    ) -> None:
        self.total, self.start = total, start
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self._t0 = time.perf_counter()

    def update(self, step: int, loss: float, accuracy: float, tokens_per_s: float, mfu: float | None) -> None:
        """Show the state after `step`."""
        if not self.enabled:
            return
        done = step - self.start
        elapsed = time.perf_counter() - self._t0
        eta = elapsed / done * (self.total - step) if done > 0 else 0.0
        mfu_text = f"{100 * mfu:5.1f}%" if mfu is not None else "n/a"
        line = (
            f"step {step}/{self.total} loss {loss:.4f} acc {accuracy:.3f} "
            f"{tokens_per_s:,.0f} tok/s MFU {mfu_text} ETA {_hms(eta)}"
        )
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """Print a line without disturbing the progress line."""
        if self.enabled and self.tty:
            self.stream.write("\r\033[K")
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """End the in-place line."""
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
