"""Start a real multi-process JAX job on this machine: N processes of a driver script, coordinator on a free
loopback port; wait for all and fail with their stderr if any fails."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(script: Path, args: list[str], processes: int, timeout_s: float = 900) -> None:
    """`python script PROCESS_ID PORT *args` for every process id; all must exit 0."""
    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), str(port), *args],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(processes)
    ]
    errors = [p.communicate(timeout=timeout_s)[1].decode()[-3000:] for p in procs]
    assert [p.returncode for p in procs] == [0] * processes, "\n".join(errors)
