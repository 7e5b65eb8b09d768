"""Standard streams for a stdin/stdout test in the child: text and binary views, and a real fd 0.

Competitive-programming code reads `sys.stdin.buffer`, `open(0)` or `os.read(0, n)` and writes
`sys.stdout.buffer`; plain `io.StringIO` streams support none of these (red-team near-miss). stdin becomes a
text wrapper over the input bytes plus an unlinked file in the box on fd 0; stdout a text wrapper over a
capped byte buffer (fd 1 stays /dev/null: raw `os.write(1, ...)` output is not captured).
"""

from __future__ import annotations

import contextlib
import io
import os

MAX_STDOUT = 8 << 20


class CappedBytesIO(io.BytesIO):
    """A byte buffer that refuses to grow beyond MAX_STDOUT (a program's endless output)."""

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.tell() + len(data) > MAX_STDOUT:
            raise MemoryError("stdout larger than 8 MiB")
        return super().write(data)


def make_streams(text: str) -> tuple[io.TextIOWrapper, io.TextIOWrapper, CappedBytesIO]:
    """(stdin, stdout, stdout's byte buffer) for one test."""
    data = text.encode("utf-8", "surrogateescape")
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(data)), encoding="utf-8", errors="surrogateescape")
    captured = CappedBytesIO()
    stdout = io.TextIOWrapper(captured, encoding="utf-8", errors="surrogateescape", write_through=True)
    return stdin, stdout, captured


def input_on_fd0(text: str, box: str) -> None:
    """Put the input on fd 0 (for open(0) / os.read(0)) via an unlinked file in the box; best effort."""
    path = os.path.join(box, f".acx-stdin-{os.getpid()}")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return  # fd 0 stays /dev/null
    try:
        os.unlink(path)
        data = memoryview(text.encode("utf-8", "surrogateescape"))
        while data:
            data = data[os.write(fd, data) :]
        os.lseek(fd, 0, os.SEEK_SET)
        os.dup2(fd, 0)
    except OSError:
        pass
    finally:
        os.close(fd)


def output_text(captured: CappedBytesIO) -> str:
    """What the program wrote, as text (undecodable bytes kept as surrogates)."""
    with contextlib.suppress(ValueError):
        return captured.getvalue().decode("utf-8", "surrogateescape")
    return ""
