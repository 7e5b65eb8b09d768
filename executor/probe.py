"""Sandbox self-test: runs inside a confined child and tries each forbidden action for real."""

from __future__ import annotations

import ctypes
import os
import resource
from typing import Any

from executor import child as child_module


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
