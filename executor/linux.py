"""Thin ctypes wrappers for the Linux calls the sandbox needs and Python 3.11's `os` lacks."""

from __future__ import annotations

import ctypes

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWIPC = 0x08000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18

libc = ctypes.CDLL(None, use_errno=True)

_prctl = libc["prctl"]  # a function object of its own: seccomp.py calls prctl with a pointer
_prctl.argtypes = (ctypes.c_int,) + (ctypes.c_ulong,) * 4  # converted in C: no ctypes objects per call
_prctl.restype = ctypes.c_int


def prctl(option: int, arg: int) -> bool:
    """Call prctl(option, arg); True on success."""
    return _prctl(option, arg, 0, 0, 0) == 0


def unshare(flags: int) -> bool:
    """unshare(2); True on success."""
    return libc.unshare(flags) == 0


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> bool:
    """mount(2); True on success."""
    call = libc.mount
    call.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    encode = lambda text: text.encode() if text is not None else None
    return call(encode(source), encode(target), encode(fstype), flags, encode(data)) == 0


def umount_detach(path: str) -> None:
    """Lazily unmount `path` (MNT_DETACH)."""
    libc.umount2(path.encode(), 2)


def map_own_ids(uid: int, gid: int) -> bool:
    """In a fresh user namespace, map only the caller's own uid/gid (and deny setgroups); False if refused."""
    try:
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1"),
            ("gid_map", f"{gid} {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    except OSError:
        return False
    return True


class _MountAttr(ctypes.Structure):
    _fields_ = (
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    )


def mount_setattr(path: str, recursive: bool, set_flags: int, clear_flags: int) -> bool:
    """mount_setattr(2) (Linux >= 5.12); True on success."""
    attr = _MountAttr(set_flags, clear_flags, 0, 0)
    flags = 0x8000 if recursive else 0  # AT_RECURSIVE
    return libc.syscall(442, -100, path.encode(), flags, ctypes.byref(attr), ctypes.sizeof(attr)) == 0


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


_NO_CAPABILITIES = (_CapHeader(0x20080522, 0), (_CapData * 2)())  # _LINUX_CAPABILITY_VERSION_3, all zero


def drop_capabilities() -> bool:
    """Empty the effective, permitted and inheritable sets (ambient follows); True on success. Without
    them nothing is regained: no_new_privs makes exec grant nothing."""
    header, data = _NO_CAPABILITIES
    return libc.capset(ctypes.byref(header), data) == 0
