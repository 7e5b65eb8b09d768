"""Emptying a sandbox directory: fd-relative, iterative, never following symlinks or crossing mounts.

Runs only after every process of the program is dead, so nothing moves entries concurrently. Paths longer
than PATH_MAX and trees deeper than Python's recursion limit (red-team #17, #18) are handled: each step
works relative to one open directory fd, and the walk climbs back with ".." checked against the inode it
came from. It never raises; it returns how many entries it could not delete, so callers can say so.
"""

from __future__ import annotations

import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def empty_dir(path: str) -> int:
    """Delete everything inside `path`; returns the number of entries left behind (0 when empty)."""
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        return 0  # gone already (e.g. a stale box another worker removed)
    try:
        with os.scandir(fd) as entries:
            if next(entries, None) is None:
                return 0  # the usual case after a program: one listing, nothing to walk
        return _empty_from(fd)
    except OSError:
        return 1
    finally:
        os.close(fd)


def _empty_from(top: int) -> int:
    device = os.fstat(top).st_dev
    fd = os.dup(top)
    above: list[tuple[int, str]] = []  # per level: (inode of the parent, name of this dir in it)
    pending = [_clear_files(fd, device)]  # per level: subdirectories still to visit
    left = 0
    try:
        while True:
            if pending[-1]:
                name = pending[-1].pop()
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    left += 1
                    continue
                above.append((os.fstat(fd).st_ino, name))
                os.close(fd)
                fd = child
                pending.append(_clear_files(fd, device))
                continue
            pending.pop()
            if not above:
                return left + _count(fd)
            parent_ino, name = above.pop()
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            if os.fstat(fd).st_ino != parent_ino:
                return left + 1  # the tree changed under us: stop rather than delete elsewhere
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                left += 1
    except OSError:
        return left + 1
    finally:
        os.close(fd)


def _clear_files(fd: int, device: int) -> list[str]:
    """Unlink every non-directory in `fd`; return its subdirectories on the same file system."""
    with os.scandir(fd) as entries:
        names = [entry.name for entry in entries]
    subdirs = []
    for name in names:
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode):
                os.unlink(name, dir_fd=fd)
            elif info.st_dev == device:  # a mount point is never crossed (its rmdir fails: counted)
                subdirs.append(name)
        except OSError:
            pass
    return subdirs


def _count(fd: int) -> int:
    with os.scandir(fd) as entries:
        return sum(1 for _ in entries)
