"""Namespaces for the confinement path without root: each program runs as pid 1 of a fresh pid namespace.

Without root a child cannot take a uid of its own, so the program runs as pid 1 of a new pid namespace
instead: it can name (and so signal or trace) no process outside, and its death takes all its descendants
with it. Creating one needs a user namespace, and every mount is made read-only except the box. The zygote
sets up the user and mount namespaces once (`enter_shared_namespaces`) and each child adds only its pid
namespace; where the zygote could not, each child creates all three itself (`enter_pid_namespace`).
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
    MS_BIND,
    MS_PRIVATE,
    MS_REC,
    PR_SET_PDEATHSIG,
    map_own_ids,
    mount,
    mount_setattr,
    prctl,
    unshare,
)

NPROC = 64  # processes per user namespace (Linux >= 5.14 counts RLIMIT_NPROC per user namespace)


def read_only_except_box(box: str) -> bool:
    """Every mount read-only except the box (covers chmod/utime, which Landlock does not govern)."""
    if not mount(None, "/", None, MS_REC | MS_PRIVATE) or not mount(box, box, None, MS_BIND):
        return False
    os.chdir(box)  # the old cwd is the directory under the new bind mount
    return mount_setattr("/", True, 1, 0) and mount_setattr(box, False, 0, 1)  # MOUNT_ATTR_RDONLY


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


def enter_pid_namespace(box: str, worker_pid: int, keep_in_child: tuple[int, ...]) -> bool:
    """In a child, on its own: unshare user + pid + mount + IPC namespaces, then fork_as_pid_one."""
    uid, gid = os.getuid(), os.getgid()
    if not unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC):
        return False
    map_own_ids(uid, gid)  # maps may be refused; the namespace still isolates pids
    read_only_except_box(box)
    _limit_processes()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # entering a user namespace cleared it (new credentials)
    if os.getppid() != worker_pid:  # the worker died before it was armed again
        os._exit(70)
    fork_as_pid_one(keep_in_child)
    return True


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
