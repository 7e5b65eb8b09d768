"""A fork server for confined children, forked from the worker before it ever held a job.

The worker receives every job's program and test requests; a child forked from it (the next job's spare, a
reload) inherits that memory, freed or not, and a program can read its own memory (red-team #15: the next
program found the previous job's correct program in a frame and ran it). Children are therefore forked from
this zygote, a copy of the worker taken at startup, which only ever receives two pipe fds per child.

So that the worker stays the parent (it waits for, times and classifies its children exactly as before), the
zygote forks with clone(CLONE_PARENT), wrapped in CPython's own before/after-fork hooks like os.fork, and
with CLONE_CHILD_SETTID pointing at libc's cached thread id (as libc's fork does; its offset is verified
against gettid() at startup). Where that cannot be verified it double-forks instead (one fork slower): the
middle process exits at once and the child is re-parented to the worker, the child subreaper, and starts
its confinement only once re-parented.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import struct
import time
from _socket import AF_UNIX, CMSG_SPACE, SCM_RIGHTS, SOCK_SEQPACKET, SOL_SOCKET, socketpair
from collections.abc import Callable
from typing import Any

from executor.linux import PR_SET_PDEATHSIG, prctl

Spawn = Callable[[tuple[int, ...]], None]  # runs in the new child with its channel fds; never returns
Socket = Any  # _socket.socket
_FDS = struct.Struct("4i")  # at most 4 fds per request


# The C socket module directly: `socket` builds enum classes worth ~0.5 MiB, which every child would then
# carry (a bigger image is a slower fork and exit). These two do what socket.send_fds/recv_fds do.
def send_fds(sock: Socket, fds: tuple[int, ...]) -> None:
    """Send one b"s" request carrying `fds` (SCM_RIGHTS)."""
    sock.sendmsg([b"s"], [(SOL_SOCKET, SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))])


def recv_fds(sock: Socket) -> tuple[bytes, tuple[int, ...]]:
    """One request and the fds it carries."""
    message, ancillary, _, _ = sock.recvmsg(16, CMSG_SPACE(_FDS.size))
    fds: tuple[int, ...] = ()
    for level, kind, data in ancillary:
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            fds += struct.unpack(f"{len(data) // 4}i", data[: len(data) - len(data) % 4])
    return message, fds


class Zygote:
    """Worker side: ask the zygote for a child holding `fds`; the child's pid comes back."""

    def __init__(self, spawn: Spawn, on_start: Callable[[], None] | None = None) -> None:
        worker = os.getpid()
        ours, theirs = socketpair(AF_UNIX, SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with the worker
                if on_start is not None:
                    on_start()  # e.g. join the children's memory cgroup (memcg.py)
                if os.getppid() == worker:
                    _serve(theirs, spawn, worker)
            finally:
                os._exit(0)
        theirs.close()
        self.pid, self.sock = pid, ours

    def spawn(self, fds: tuple[int, ...]) -> int:
        """A new child (now our child) running `spawn` with `fds`; OSError when the zygote is gone."""
        send_fds(self.sock, fds)
        data = self.sock.recv(16)
        if len(data) != 8:
            raise OSError("zygote exited")
        return int.from_bytes(data, "big", signed=True)

    def close(self) -> None:
        """Stop the zygote and reap it."""
        self.sock.close()
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


CLONE_PARENT, CLONE_CHILD_SETTID, SIGCHLD, SYS_CLONE, SYS_GETTID = 0x8000, 0x01000000, 17, 56, 186
TID_OFFSET = 720  # offsetof(struct pthread, tid) in glibc x86-64; checked against gettid() before use


def _tid_field() -> int | None:
    """Address of libc's cached tid of this thread, when it is where we expect (x86-64 glibc), else None."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.pthread_self.restype = ctypes.c_void_p
        address = libc.pthread_self() + TID_OFFSET
        if os.uname().machine == "x86_64" and ctypes.c_int.from_address(address).value == libc.syscall(
            SYS_GETTID
        ):
            return address
    except (OSError, AttributeError, TypeError):
        pass
    return None


class _CloneParent:
    """fork(), except that the new process is a child of our parent (the worker); -1 on failure.

    Everything it needs is built once: after each fork every page the zygote writes is copied again (it is
    shared with the new child), so the loop between forks must allocate and touch as little as possible."""

    def __init__(self, tid_field: int) -> None:
        self.before, self.after_child, self.after_parent = (
            ctypes.pythonapi.PyOS_BeforeFork,  # holds the GIL across the call, as os.fork does
            ctypes.pythonapi.PyOS_AfterFork_Child,
            ctypes.pythonapi.PyOS_AfterFork_Parent,
        )
        self.syscall = ctypes.PyDLL(None, use_errno=True).syscall
        self.syscall.argtypes = (ctypes.c_long,) * 6
        self.syscall.restype = ctypes.c_long
        self.flags = CLONE_PARENT | CLONE_CHILD_SETTID | SIGCHLD
        self.tid_field = tid_field

    def __call__(self) -> int:
        self.before()
        pid = self.syscall(SYS_CLONE, self.flags, 0, 0, self.tid_field, 0)
        if pid == 0:
            self.after_child()
        else:
            self.after_parent()
        return pid


def _release_free_heap() -> None:
    """Hand free heap pages back to the kernel: every fork copies the page table entries of what is left
    (about 10% off each fork and exit)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)  # glibc only


def _serve(sock: Socket, spawn: Spawn, worker: int) -> None:
    """Zygote loop: one child per request, until the worker closes the socket."""
    tid_field = _tid_field()
    clone_parent = _CloneParent(tid_field) if tid_field is not None else None
    gc.disable()  # the loop makes no cycles; a collection here would touch (and so copy) many pages
    _release_free_heap()
    while True:
        try:
            message, fds = recv_fds(sock)
        except OSError:
            return
        if not message:
            return
        pid = clone_parent() if clone_parent is not None else -1
        if pid == 0:
            try:
                gc.enable()  # our socket is closed with every other fd by the child's confinement
                if os.getppid() == worker:
                    spawn(tuple(fds))
            finally:
                os._exit(70)
        if pid > 0:
            for fd in fds:
                os.close(fd)
            sock.send(pid.to_bytes(8, "big", signed=True))
            continue
        read_end, write_end = os.pipe()
        middle = os.fork()
        if middle == 0:
            me = os.getpid()
            child = os.fork()
            if child == 0:
                _become_child(sock, spawn, (me, worker), tuple(fds), (read_end, write_end))
            os.write(write_end, child.to_bytes(8, "big", signed=True))
            os._exit(0)  # the child is re-parented to the worker (subreaper) now
        for fd in fds:
            os.close(fd)
        os.close(write_end)
        data = os.read(read_end, 8)
        os.close(read_end)
        os.waitpid(middle, 0)  # reaped: the child's parent is the worker from here on
        sock.send(data if len(data) == 8 else (-1).to_bytes(8, "big", signed=True))


def _become_child(sock: Socket, spawn: Spawn, parents: tuple, fds: tuple, pipe: tuple) -> None:
    """In the grandchild: wait for the re-parenting to the worker, then run `spawn`; never returns."""
    middle, worker = parents
    try:
        sock.close()
        for fd in pipe:
            os.close(fd)
        while os.getppid() == middle:
            time.sleep(0.0001)
        if os.getppid() == worker:
            spawn(fds)
    finally:
        os._exit(70)
