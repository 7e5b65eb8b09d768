"""The children's view of the file system: every mount read-only except the box, /proc/locks masked.

A read-only mount covers what Landlock does not govern (chmod, utime) and never updates access times: on a
read-write mount under relatime, a child reading a file outside the box moved its atime, which a later job
read back (red-team round 2, #3) and which changed the host's metadata. Applied once, in a mount namespace
that the children share and the worker does not (the zygote's: the worker itself still writes its box
directory, cgroups and /proc files). /proc/locks is masked because it lists every lock on the machine; the
children cannot take locks (seccomp.py), so it could only show them the host's.
"""

from __future__ import annotations

import os

from executor.linux import MS_BIND, MS_PRIVATE, MS_REC, mount, mount_setattr

MOUNT_ATTR_RDONLY = 1
MS_RDONLY, MS_REMOUNT = 1, 32
# Per-mount flags a bind remount must repeat (a user namespace refuses to clear locked ones).
_KEPT_FLAGS = {
    "nosuid": 2,
    "nodev": 4,
    "noexec": 8,
    "noatime": 1024,
    "nodiratime": 2048,
    "relatime": 1 << 21,
    "strictatime": 1 << 24,
}


def read_only_except_box(box: str) -> bool:
    """In a private mount namespace: every mount read-only except the box; the cwd becomes the box.

    mount_setattr (Linux >= 5.12) changes the whole tree in one call; older kernels remount each visible
    mount point. False when any mount stayed writable."""
    if not mount(None, "/", None, MS_REC | MS_PRIVATE) or not mount(box, box, None, MS_BIND):
        return False
    os.chdir(box)  # the old cwd is the directory under the new bind mount
    mount("/dev/null", "/proc/locks", None, MS_BIND)  # best effort: an empty file over the host's locks
    if mount_setattr("/", True, MOUNT_ATTR_RDONLY, 0):
        return mount_setattr(box, False, 0, MOUNT_ATTR_RDONLY)
    return remount_each_read_only(box)


def remount_each_read_only(box: str) -> bool:
    """Bind-remount every visible mount point but `box` read-only, keeping its other flags."""
    ok = True
    for point, flags in _mount_points():
        if point != box and not mount(None, point, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags):
            ok = False
    return ok


def _mount_points() -> list[tuple[str, int]]:
    """(mount point, flags to keep) from /proc/self/mountinfo, parents before the mounts below them."""
    with open("/proc/self/mountinfo", "rb") as handle:
        lines = handle.read().decode("utf-8", "surrogateescape").splitlines()
    points = []
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 6:
            continue
        options = fields[5].split(",")
        flags = sum(value for name, value in _KEPT_FLAGS.items() if name in options)
        points.append((_unescape(fields[4]), flags))
    return points


def _unescape(path: str) -> str:
    """Mount points in mountinfo have space, tab, newline and backslash as octal escapes (\\040, ...)."""
    for code in ("040", "011", "012", "134"):
        path = path.replace("\\" + code, chr(int(code, 8)))
    return path


def never_records_atime(path: str) -> bool:
    """Whether the mount holding `path` never records access times (read-only or noatime)."""
    flags = os.statvfs(path).f_flag
    return bool(flags & (os.ST_RDONLY | os.ST_NOATIME))
