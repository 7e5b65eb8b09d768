"""A CPU-share cgroup (v1 `cpu` controller) per worker: a program's busy processes compete for the CPU as
one group with its worker, not one scheduler entity each (red-team #13: 60 setsid busy loops starved an
honest sibling on another worker into a timeout). Best effort: without a writable cpu hierarchy nothing
changes and `cpu_group` is reported inactive.
"""

from __future__ import annotations

import contextlib
import os
import time

from executor.memcg import remove_groups

CPU_ROOT = "/sys/fs/cgroup/cpu"
PREFIX = "acecoder-exec-"


def join_cpu_group(nonce: str) -> str | None:
    """Create this worker's cpu cgroup and move the calling process into it; its path, or None."""
    if not os.path.isfile(os.path.join(CPU_ROOT, "cpu.shares")):
        return None
    _remove_stale_groups()
    path = os.path.join(CPU_ROOT, f"{PREFIX}{os.getpid()}-{nonce}")
    try:
        os.mkdir(path, 0o755)
        _write(os.path.join(path, "cpu.shares"), "1024")
        _write(os.path.join(path, "cgroup.procs"), str(os.getpid()))  # children are forked into it
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(path)
        return None
    return path


def leave_cpu_group(path: str | None) -> None:
    """Move the calling process back to the root group and delete `path` (once it holds no process)."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        _write(os.path.join(CPU_ROOT, "cgroup.procs"), str(os.getpid()))
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _remove_stale_groups() -> None:
    """Groups of workers that died without cleaning up: empty ones can be removed (rmdir refuses others)."""
    try:
        names = [n for n in os.listdir(CPU_ROOT) if n.startswith(PREFIX)]
    except OSError:
        return
    for name in names:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(name[len(PREFIX) :].split("-")[0])
            try:
                os.kill(pid, 0)
                continue  # its worker (or a process reusing the pid) is alive
            except ProcessLookupError:
                pass
            os.rmdir(os.path.join(CPU_ROOT, name))


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def forget_worker(pid: int) -> None:
    """Remove the groups of a worker that has been reaped, e.g. after it was killed (its children die with
    it a moment later: wait up to ~0.5 s for the group to empty); its memory groups too (memcg.py)."""
    remove_groups(pid)
    try:
        names = [n for n in os.listdir(CPU_ROOT) if n.startswith(f"{PREFIX}{pid}-")]
    except OSError:
        return
    for name in names:
        for _ in range(100):
            try:
                os.rmdir(os.path.join(CPU_ROOT, name))
                break
            except OSError:
                time.sleep(0.005)
