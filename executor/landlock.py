"""Landlock (Linux >= 5.13) through raw syscalls: confine a process to reading a few trees and writing one.

Python 3.11 has no binding, so this uses ctypes. The ruleset is built once per worker and applied in each
child with `restrict_self` (one syscall); every feature degrades to "not active" on kernels without it.
"""

from __future__ import annotations

import ctypes
import os

_SYS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}  # create_ruleset, add_rule, restrict_self

READ_ONLY = (1 << 0) | (1 << 2) | (1 << 3)  # EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = (
    (1 << 0) | (1 << 1) | (1 << 2)
)  # EXECUTE | WRITE_FILE | READ_FILE (+ TRUNCATE, IOCTL_DEV by ABI)
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
NET_BIND_CONNECT_TCP = (1 << 0) | (1 << 1)
SCOPE_ABSTRACT_UNIX_AND_SIGNAL = (1 << 0) | (1 << 1)


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


_libc = ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is unavailable."""
    numbers = _SYS.get(os.uname().machine)
    if numbers is None:
        return 0
    version = _libc.syscall(numbers[0], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(version), 0)


class Ruleset:
    """A Landlock ruleset: read-only trees, read-write trees, no TCP, scoped signals/abstract sockets."""

    def __init__(self, read_paths: list[str], write_paths: list[str]) -> None:
        self.abi = abi_version()
        self.fd = -1
        self.features: dict[str, bool] = {"fs": False, "tcp": False, "scope": False}
        if self.abi <= 0:
            return
        create, add_rule, _ = _SYS[os.uname().machine]
        fs = _FS_BY_ABI.get(self.abi, (1 << 16) - 1)
        self.file_rights = FILE_RIGHTS | (fs & ((1 << 14) | (1 << 15)))
        attr = _RulesetAttr(fs, NET_BIND_CONNECT_TCP if self.abi >= 4 else 0)
        if self.abi >= 6:
            attr.scoped = SCOPE_ABSTRACT_UNIX_AND_SIGNAL
        size = 8 if self.abi < 4 else 16 if self.abi < 6 else 24
        fd = _libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
        if fd < 0:
            return
        self.fd = int(fd)
        for path, rights in [(p, READ_ONLY) for p in read_paths] + [(p, fs) for p in write_paths]:
            self._allow(add_rule, path, rights)
        self.features = {"fs": True, "tcp": self.abi >= 4, "scope": self.abi >= 6}

    def _allow(self, add_rule: int, path: str, rights: int) -> None:
        try:
            path_fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            if not os.path.isdir(path):
                rights &= self.file_rights
            rule = _PathBeneath(rights, path_fd)
            _libc.syscall(
                add_rule, ctypes.c_int(self.fd), ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0)
            )
        finally:
            os.close(path_fd)

    def restrict_self(self, fd: int | None = None) -> bool:
        """Apply the ruleset (or a duplicate `fd` of it) to the calling process; True when enforced."""
        fd = self.fd if fd is None else fd
        if fd < 0:
            return False
        _, _, restrict = _SYS[os.uname().machine]
        return _libc.syscall(restrict, ctypes.c_int(fd), ctypes.c_uint32(0)) == 0
