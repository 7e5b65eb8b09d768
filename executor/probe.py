"""Sandbox self-test: runs inside a confined child and tries each forbidden action for real."""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import struct
from typing import Any

from executor import child as child_module
from executor.mounts import never_records_atime


def _blocked(action: Any) -> bool:
    try:
        action()
    except OSError:
        return True
    return False


def _read(path: str) -> None:
    with open(path, "rb") as handle:
        handle.read(1)


def _write(path: str) -> None:
    with open(path, "w") as handle:
        handle.write("pwned")


def _connect(host: str, port: int) -> None:
    import socket  # imported here: the worker stays lean, and the probe's child may read the stdlib

    with socket.create_connection((host, port), timeout=1.0):
        pass


def _ptrace(pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, pid, None, None) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), "ptrace denied")
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH


def _syscall(number: int, *args: Any) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, *args) < 0:
        raise OSError(ctypes.get_errno(), f"syscall {number} refused")


def _socket(family_name: str, kind: int = 1) -> None:
    import socket

    socket.socket(getattr(socket, family_name), kind).close()


def _kernel_channel_checks() -> dict[str, bool]:
    """Channels past namespaces and Landlock (red-team #10-#12), closed by seccomp (see seccomp.py)."""
    return {
        "keyring": _blocked(lambda: _syscall(248, b"user", b"acx-probe", b"x", 1, -4)),  # add_key
        "unix_socket": _blocked(lambda: _socket("AF_UNIX")),
        "netlink_socket": _blocked(lambda: _socket("AF_NETLINK", 2)),
        "vsock_socket": _blocked(lambda: _socket("AF_VSOCK")),
        "io_uring": _blocked(lambda: _syscall(425, 8, ctypes.create_string_buffer(120))),
        "memfd": _blocked(lambda: _syscall(319, b"x", 0)),
        "user_namespace": _blocked(lambda: _syscall(272, 0x10000000)),  # unshare(CLONE_NEWUSER)
        "sysv_ipc": _blocked(lambda: _syscall(29, 0, 4096, 0o1600)),  # shmget(IPC_PRIVATE)
    }


def _all_blocked(*actions: Any) -> bool:
    return all(_blocked(action) for action in actions)


def _file_channel_checks(path: str) -> dict[str, bool]:
    """Marks on a file every child can read, which a concurrent child could observe (closed by seccomp and
    the read-only mounts; red-team round 2, #3). `path` is a readable file outside the box."""
    import mmap  # here: a module the warm worker (and so every child's image) does not need

    fd = os.open(path, os.O_RDONLY)
    directory = os.open(os.path.dirname(json.__file__), os.O_RDONLY)  # a listable stdlib directory
    lock = struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, *(ctypes.c_int,) * 3, ctypes.c_long)
    page = ctypes.c_void_p(libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0))
    before = os.stat(path).st_atime_ns
    with open(path, "rb") as handle:
        handle.read()
    checks = {
        "file_lock": _all_blocked(
            lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB),
            *(lambda cmd=cmd: fcntl.fcntl(fd, cmd, lock) for cmd in (fcntl.F_SETLK, fcntl.F_GETLK, 37, 36)),
        ),
        "file_lease": _all_blocked(
            lambda: fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK),
            lambda: fcntl.fcntl(fd, fcntl.F_GETLEASE),
        ),
        "dnotify": _blocked(lambda: fcntl.fcntl(directory, fcntl.F_NOTIFY, fcntl.DN_ACCESS)),
        "inotify": _all_blocked(lambda: _syscall(253), lambda: _syscall(294, 0)),
        "fanotify": _blocked(lambda: _syscall(300, 0, 0)),
        "page_cache": _all_blocked(
            lambda: _syscall(27, page, 4096, ctypes.create_string_buffer(1)),  # mincore
            lambda: _syscall(451, fd, ctypes.create_string_buffer(16), ctypes.create_string_buffer(40), 0),
            lambda: os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED),
            lambda: _syscall(28, page, 4096, 21),  # madvise(MADV_PAGEOUT)
        ),
        # blocked: the file's mount records no access time, and reading it left the atime as it was
        "atime": never_records_atime(path) and os.stat(path).st_atime_ns == before,
    }
    os.close(fd)
    os.close(directory)
    return checks


def run_probes(request: dict[str, Any]) -> dict[str, Any]:
    """Try each forbidden action; True means it was blocked."""
    parent = int(request.get("worker_pid", os.getppid()))  # in a pid namespace getppid() says 0
    pool = int(request.get("pool_pid", parent))
    checks: dict[str, Any] = {
        "write_outside_box": _blocked(lambda: _write(request.get("outside", "/tmp/acecoder-probe-write"))),
        "signal_worker": _blocked(lambda: os.kill(parent, 0)),
        "signal_pool": _blocked(lambda: os.kill(pool, 0)),
        "read_worker_memory": _blocked(lambda: _read(f"/proc/{parent}/mem")),
        "ptrace_worker": _blocked(lambda: _ptrace(parent)),
        "tcp_loopback": _blocked(lambda: _connect("127.0.0.1", int(request.get("port", 9)))),
        "tcp_external": _blocked(lambda: _connect("1.1.1.1", 53)),
    }
    if "zygote_pid" in request:  # root, outside the child's uid: shares its Landlock domain, nothing else
        zygote = int(request["zygote_pid"])
        checks["signal_zygote"] = _blocked(lambda: os.kill(zygote, 0))
        checks["read_zygote_memory"] = _blocked(lambda: _read(f"/proc/{zygote}/mem"))
        checks["ptrace_zygote"] = _blocked(lambda: _ptrace(zygote))
    if "secret" in request:
        checks["read_outside_file"] = _blocked(lambda: _read(request["secret"]))
    if "victim" in request:
        checks["delete_outside_file"] = _blocked(lambda: os.unlink(request["victim"]))
    checks.update(_kernel_channel_checks())
    checks.update(_file_channel_checks(request.get("readable", os.__file__)))
    box_writable = not _blocked(lambda: _write("inside.txt"))  # wanted: not a "blocked" check
    limits = {
        name: resource.getrlimit(getattr(resource, name))[1]
        for name in ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC")
    }
    with open("/proc/self/status") as handle:
        status = dict(line.split(":", 1) for line in handle if ":" in line)
    return {
        "checks": checks,
        "active": getattr(child_module, "FEATURES", {}),
        "uid": os.getuid(),
        "env": sorted(os.environ),
        "limits": limits,
        "no_new_privs": status.get("NoNewPrivs", "").strip() == "1",
        "open_fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "box_writable": box_writable,
    }
