"""Namespaces for the confinement path without root: each program runs as pid 1 of a fresh pid namespace.

Without root a child cannot take a uid of its own, so the program runs as pid 1 of a new pid namespace
instead: it can name (and so signal or trace) no process outside, and its death takes all its descendants
with it. Creating one needs a user namespace, and every mount is made read-only except the box. The zygote
sets up the user and mount namespaces once (`enter_shared_namespaces`) and each child adds only its pid
namespace; where the zygote could not, each child creates all three itself (`enter_pid_namespace`). The
read-only mounts (mounts.py) also keep access times of files outside the box unchanged.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal

from executor.linux import (
    CLONE_NEWIPC,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    PR_SET_PDEATHSIG,
    map_own_ids,
    prctl,
    unshare,
)
from executor.mounts import read_only_except_box

NPROC = 64  # processes per user namespace (Linux >= 5.14 counts RLIMIT_NPROC per user namespace)


def enter_shared_namespaces(box: str) -> bool:
    """In the zygote: a user namespace mapping only our ids, with a mount namespace where everything but
    the box is read-only; the working directory is the box. False when the kernel refuses any of it."""
    uid, gid = os.getuid(), os.getgid()
    if not unshare(CLONE_NEWUSER | CLONE_NEWNS):
        return False
    map_own_ids(uid, gid)  # maps may be refused; the namespaces still isolate
    if not read_only_except_box(box):
        return False
    _limit_processes()
    return True


def enter_pid_namespace(box: str, worker_pid: int, keep_in_child: tuple[int, ...]) -> dict[str, bool]:
    """In a child, on its own: unshare user + pid + mount + IPC namespaces, then fork_as_pid_one; returns
    which of pid_namespace and read_only_mounts are active."""
    uid, gid = os.getuid(), os.getgid()
    if not unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC):
        return {"pid_namespace": False, "read_only_mounts": False}
    map_own_ids(uid, gid)  # maps may be refused; the namespace still isolates pids
    read_only = read_only_except_box(box)
    _limit_processes()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # entering a user namespace cleared it (new credentials)
    if os.getppid() != worker_pid:  # the worker died before it was armed again
        os._exit(70)
    fork_as_pid_one(keep_in_child)
    return {"pid_namespace": True, "read_only_mounts": read_only}


def fork_as_pid_one(keep_in_child: tuple[int, ...]) -> None:
    """After unshare(CLONE_NEWPID): fork; the child (pid 1 of the new namespace) returns, the caller stays
    behind as a waiter that closes `keep_in_child` (EOF on the channel must mean "program ended") and exits
    with the program's status."""
    pid = os.fork()
    if pid == 0:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with the waiter (which dies with the worker)
        return
    for fd in keep_in_child:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


def _limit_processes() -> None:
    # Set inside the new user namespace, it bounds the processes there only (not every process of the
    # caller's uid). The kernel exempts real root from it.
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_NPROC, (NPROC, NPROC))


PER_CHILD_FLAGS = CLONE_NEWPID
PER_CHILD_FLAGS_WITHOUT_SECCOMP = CLONE_NEWPID | CLONE_NEWIPC  # no filter to deny SysV IPC
