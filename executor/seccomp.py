"""A seccomp-BPF filter for the confined child: syscalls that reach past every other layer return EPERM.

Namespaces, uid drop and Landlock leave a few kernel channels open to an unprivileged process: the kernel
keyring (shared across uids, survives the job), io_uring (a second syscall path), AF_UNIX pathname sockets
(host services; Landlock does not cover connect), AF_NETLINK/AF_PACKET/AF_VSOCK sockets, memfd (memory that
RLIMIT_AS does not count until mapped), SysV IPC and POSIX message queues (objects that outlive the job),
new namespaces (user namespaces widen the kernel's attack surface), and marks on files every child can read
(red-team round 2, #3): advisory locks and leases, file-change notification (dnotify, inotify, fanotify),
and page-cache residency (mincore, cachestat) with its eviction primitives (fadvise, MADV_COLD/PAGEOUT). Two
concurrent children could signal through any of them. x86-64 only: on other architectures
nothing is installed, and a call through a mismatched syscall ABI is killed. Installed after no_new_privs and
before any program code runs: once in the zygote, which every child inherits, on the own-uid path; in each
child after it entered its pid namespace on the path without root (see sandbox.py).
"""

from __future__ import annotations

import ctypes
import os
import struct

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
AUDIT_ARCH_X86_64 = 0xC000003E
RET_ALLOW, RET_KILL_PROCESS = 0x7FFF0000, 0x80000000
RET_EPERM, RET_ENOSYS = 0x00050000 | 1, 0x00050000 | 38
# x86-64 syscall numbers
DENIED = {
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "setns": 308,
    "memfd_create": 319,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    # SysV IPC and POSIX message queues: objects that outlive the program and are shared across its IPC
    # namespace (a cross-job channel). Denied outright, so children need no IPC namespace of their own.
    "shmget": 29,
    "shmat": 30,
    "shmctl": 31,
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "shmdt": 67,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
    "semtimedop": 220,
    "mq_open": 240,
    "mq_unlink": 241,
    "mq_timedsend": 242,
    "mq_timedreceive": 243,
    "mq_notify": 244,
    "mq_getsetattr": 245,
    # Covert channels through files outside the box (fcntl and madvise are filtered by argument below).
    "flock": 73,
    "inotify_init": 253,
    "inotify_add_watch": 254,
    "inotify_rm_watch": 255,
    "inotify_init1": 294,
    "fanotify_init": 300,
    "fanotify_mark": 301,
    "mincore": 27,
    "fadvise64": 221,
    "process_madvise": 440,
    "cachestat": 451,
}
SYS_SOCKET, SYS_CLONE, SYS_CLONE3, SYS_FCNTL, SYS_MADVISE = 41, 56, 435, 72, 28
# fcntl commands that lock, lease or watch a file: F_GETLK F_SETLK F_SETLKW, F_OFD_GETLK/SETLK/SETLKW,
# F_SETLEASE F_GETLEASE F_NOTIFY. Every other command (dup, fd/status flags, pipe size, seals) still works.
DENIED_FCNTL = (5, 6, 7, 36, 37, 38, 1024, 1025, 1026)
DENIED_MADVISE = (20, 21)  # MADV_COLD, MADV_PAGEOUT: evict a shared file's pages (a page-cache signal)
DENIED_FAMILIES = {"AF_UNIX": 1, "AF_NETLINK": 16, "AF_PACKET": 17, "AF_VSOCK": 40}
CLONE_NEW_FLAGS = 0x7E020080  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
_X32_BIT = 0x40000000

# classic BPF opcodes
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low 32 bits, little-endian)
_ARG1, _ARG2 = 24, 32  # the kernel reads fcntl's cmd and madvise's advice as 32-bit ints: low halves suffice


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def _deny_if(value: int, ret: int = RET_EPERM) -> list[bytes]:
    """if (A == value) return ret."""
    return [_insn(_JEQ_K, value, 0, 1), _insn(_RET_K, ret)]


def _by_argument(number: int, offset: int, denied: tuple[int, ...] | dict[str, int]) -> list[bytes]:
    """if (nr == number) { A = argument; deny listed values; allow }: a block that always returns."""
    block = [_insn(_LD_W_ABS, offset)]
    for value in denied if isinstance(denied, tuple) else denied.values():
        block += _deny_if(value)
    block.append(_insn(_RET_K, RET_ALLOW))
    return [_insn(_JEQ_K, number, 0, len(block)), *block]


def build_filter() -> bytes:
    """The filter program (sock_filter array) as bytes.

    Syscalls whose verdict does not depend on an argument never load one, so the kernel (>= 5.11) caches
    them as always allowed and runs no filter for them at all; only socket, clone, fcntl and madvise (and the
    denied calls) walk the program."""
    prog = [_insn(_LD_W_ABS, _ARCH), _insn(_JEQ_K, AUDIT_ARCH_X86_64, 1, 0), _insn(_RET_K, RET_KILL_PROCESS)]
    prog += [_insn(_LD_W_ABS, _NR), _insn(_JGE_K, _X32_BIT, 0, 1), _insn(_RET_K, RET_KILL_PROCESS)]
    prog += _by_argument(SYS_FCNTL, _ARG1, DENIED_FCNTL)
    prog += _by_argument(SYS_MADVISE, _ARG2, DENIED_MADVISE)
    prog += _by_argument(SYS_SOCKET, _ARG0, DENIED_FAMILIES)
    clone = [_insn(_LD_W_ABS, _ARG0), _insn(_JSET_K, CLONE_NEW_FLAGS, 0, 1), _insn(_RET_K, RET_EPERM)]
    clone.append(_insn(_RET_K, RET_ALLOW))
    prog += [_insn(_JEQ_K, SYS_CLONE, 0, len(clone)), *clone]
    for number in DENIED.values():
        prog += _deny_if(number)
    prog += _deny_if(SYS_CLONE3, RET_ENOSYS)  # flags live in memory BPF cannot read: libc falls back to clone
    prog.append(_insn(_RET_K, RET_ALLOW))
    return b"".join(prog)


class _FProg(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def supported() -> bool:
    """Whether this filter applies to the running machine (x86-64 Linux)."""
    system = os.uname()  # not `platform`: one more module in every child's image
    return system.sysname == "Linux" and system.machine == "x86_64"


class Filter:
    """The filter program, built once (in the worker) so that installing it costs a child one syscall."""

    def __init__(self) -> None:
        code = build_filter() if supported() else b""
        self.buffer = ctypes.create_string_buffer(code, max(len(code), 1))
        self.prog = _FProg(len(code) // 8, ctypes.addressof(self.buffer))

    @property
    def supported(self) -> bool:
        """Whether install() can apply this filter here (x86-64 Linux)."""
        return bool(self.prog.len)

    def install(self, libc: ctypes.CDLL) -> bool:
        """Install on the calling thread (needs no_new_privs or CAP_SYS_ADMIN); True on success. Inherited
        by every process it forks."""
        if not self.prog.len:
            return False
        return libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self.prog), 0, 0) == 0
