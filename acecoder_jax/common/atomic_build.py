"""Build a directory (or write a file) once, atomically: a crash or a concurrent first use never leaves a
half-built one."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_build_dir(target: Path, build: Callable[[Path], object], marker: str) -> Path:
    """`target`, first built by `build(staging_dir)` and renamed into place unless `target/marker` exists."""
    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # A sibling staging directory, so the final rename stays on one filesystem and is atomic.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}_", dir=target.parent))
    try:
        build(staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / marker).is_file():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a sibling temporary file and a rename (readers see old or new)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}_", delete=False) as handle:
        handle.write(data)
        staging = Path(handle.name)
    staging.replace(path)
    return path
