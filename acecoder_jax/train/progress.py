"""One terminal progress line: step, the chosen metrics, tokens/s, MFU, ETA (rewritten in place on a TTY)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TextIO


class ProgressLine:
    """Print `step/total` progress with `keys` of each step's metrics; on a TTY one line updated in place."""

    def __init__(
        self,
        total: int,
        start: int = 0,
        stream: TextIO | None = None,
        enabled: bool = True,
        keys: tuple[str, ...] = ("loss",),
    ) -> None:
        self.total, self.start, self.keys = total, start, keys
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self._t0 = time.perf_counter()

    def update(
        self, step: int, metrics: Mapping[str, float], tokens_per_s: float | None, mfu: float | None
    ) -> None:
        """Show the state after `step` (metrics absent from `metrics` are left out)."""
        if not self.enabled:
            return
        done = step - self.start
        elapsed = time.perf_counter() - self._t0
        eta = elapsed / done * (self.total - step) if done > 0 else 0.0
        parts = [f"step {step}/{self.total}"]
        parts += [f"{key} {metrics[key]:.4f}" for key in self.keys if key in metrics]
        if tokens_per_s is not None:
            parts.append(f"{tokens_per_s:,.0f} tok/s")
            parts.append(f"MFU {100 * mfu:5.1f}%" if mfu is not None else "MFU n/a")
        parts.append(f"ETA {_hms(eta)}")
        line = " ".join(parts)
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
