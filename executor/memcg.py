"""A memory cgroup (v1) for a worker's children: all processes of a program together stay under one limit.

RLIMIT_AS bounds each process, not their sum: 64 processes of a program could each take `--memory-mb`, and
files in the box (tmpfs) or SysV shm are not address space at all (red-team #10). The zygote joins this
group before any child exists, so every child is charged to it; the worker (which decodes replies) stays
outside. Children are the OOM killer's first choice (oom_score_adj 1000), the zygote its last (-1000).
Best effort: without a writable memory hierarchy `memory_group` is reported inactive.
"""

from __future__ import annotations

import contextlib
import os
import time

MEMORY_ROOT = "/sys/fs/cgroup/memory"
PREFIX = "acecoder-exec-"


def _base() -> str | None:
    """The memory cgroup directory of the calling process (groups are created below it)."""
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if "memory" in controllers.split(","):
                    return MEMORY_ROOT + path.rstrip("/")
    except (OSError, ValueError):
        pass
    return None


def make_memory_group(nonce: str, limit_bytes: int) -> str | None:
    """Create a group limited to `limit_bytes` (the caller does not join it); its path, or None."""
    base = _base()
    if base is None or not os.path.isfile(os.path.join(base, "memory.limit_in_bytes")):
        return None
    remove_groups(None, wait_s=0.0)  # of workers that died without cleaning up
    path = os.path.join(base, f"{PREFIX}{os.getpid()}-{nonce}")
    try:
        os.mkdir(path, 0o755)
        _write(os.path.join(path, "memory.limit_in_bytes"), str(limit_bytes))
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(path)
        return None
    return path


def enter_as_zygote(path: str | None) -> None:
    """In the zygote: join the group and never be the OOM killer's choice (children inherit the group)."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        _write(os.path.join(path, "cgroup.procs"), str(os.getpid()))
        _write("/proc/self/oom_score_adj", "-1000")


def mark_as_child(pid: int) -> None:
    """From the worker, before the child gets any request: make it the OOM killer's first choice (undo the
    zygote's -1000). The child cannot: it is born inside the zygote's Landlock domain (read-only /proc)."""
    with contextlib.suppress(OSError):
        fd = os.open(f"/proc/{pid}/oom_score_adj", os.O_WRONLY)
        try:
            os.write(fd, b"1000")
        finally:
            os.close(fd)


def remove_groups(pid: int | None, wait_s: float = 0.5) -> None:
    """Remove the groups of worker `pid` (None: of every dead worker); waits briefly for them to empty."""
    base = _base()
    try:
        names = [n for n in os.listdir(base) if n.startswith(PREFIX)] if base else []
    except OSError:
        return
    for name in names:
        with contextlib.suppress(ValueError, IndexError):
            owner = int(name[len(PREFIX) :].split("-")[0])
            if owner != pid if pid is not None else _alive(owner):
                continue  # another worker's group, or a live worker's
            for _ in range(max(1, int(wait_s / 0.005))):
                try:
                    os.rmdir(os.path.join(base, name))
                    break
                except OSError:
                    time.sleep(0.005)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)
