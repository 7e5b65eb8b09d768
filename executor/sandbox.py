"""Confinement of one untrusted child process, applied right after fork and before any untrusted code runs.

Every step degrades gracefully: a feature the kernel (or our privileges) lacks is recorded as inactive in
`features` and reported by `acecoder exec --check-sandbox`; it never stops the executor from working.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import signal

from executor import seccomp
from executor.landlock import Ruleset
from executor.linux import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUSER,
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    drop_capabilities,
    libc,
    map_own_ids,
    mount,
    prctl,
    unshare,
)
from executor.mounts import read_only_except_box
from executor.pidns import (
    PER_CHILD_FLAGS,
    PER_CHILD_FLAGS_WITHOUT_SECCOMP,
    enter_pid_namespace,
    enter_shared_namespaces,
    fork_as_pid_one,
)

UID_DROP_FAILED = 77  # a child's exit code when it could not drop to its uid (it runs nothing)
CAPABILITY_DROP_FAILED = 78  # likewise for the capabilities of the shared user namespace (pidns.py)
CHANNEL_FDS = (3, 4)  # the child reads requests on 3 and writes replies on 4


class SandboxSpec:
    """What a worker's children are confined to; built once per worker."""

    def __init__(
        self, box_dir: str, uid: int | None, memory_mb: int, ruleset: Ruleset, features: dict
    ) -> None:
        self.box_dir, self.uid, self.memory_mb = box_dir, uid, memory_mb
        self.nofile, self.nproc, self.fsize_mb = 64, 64, 64
        self.ruleset = ruleset
        self.worker_features: dict[str, bool] = features
        self.seccomp_filter = seccomp.Filter()  # built here so that a child only installs it
        # Set in the zygote by confine_zygote (its children inherit it): what every child has from birth.
        self.inherited: dict[str, bool] | None = None


def setup_worker(
    box_dir: str, uid: int | None, memory_mb: int, roots: list[str], box_mb: int = 256
) -> SandboxSpec:
    """Once per worker: private network and mount namespaces, size-capped box, subreaper, Landlock ruleset."""
    features: dict[str, bool] = {}
    # A fresh network namespace has only a loopback device that is down: no network, loopback included.
    if os.geteuid() == 0:
        features["netns"] = unshare(CLONE_NEWNET)
        private = unshare(CLONE_NEWNS) and mount(None, "/", None, MS_REC | MS_PRIVATE)
    else:
        features["netns"] = _unprivileged_netns()
        private = False
    # The box is a size-capped tmpfs: a program can fill it, not the disk.
    options = f"mode=0700,size={box_mb}m" + (f",uid={uid},gid={uid}" if uid is not None else "")
    features["box_tmpfs"] = private and mount("tmpfs", box_dir, "tmpfs", MS_NOSUID | MS_NODEV, options)
    # Orphaned grandchildren (setsid daemons) are re-parented to the worker, which can then see and kill them.
    features["subreaper"] = prctl(PR_SET_CHILD_SUBREAPER, 1)
    # A fresh /proc with hidepid=2 in the worker's mount namespace: a dropped uid sees only its own processes
    # (no host process's cmdline or environ, red-team #16). Mounted before the Landlock rules bind "/proc".
    if uid is not None and private:
        features["proc_hidepid"] = mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | 8, "hidepid=2")
    if uid is not None and private:
        features["private_mounts"] = _make_traversable(roots, os.path.dirname(box_dir))
    ruleset = Ruleset(roots, [box_dir])
    features.update({f"landlock_{k}": v for k, v in ruleset.features.items()})
    features["uid_drop"] = uid is not None
    # Children inherit this environment: nothing from the caller's (no secrets), HOME and TMPDIR in the box.
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "HOME": box_dir, "TMPDIR": box_dir, "LANG": "C.UTF-8"})
    return SandboxSpec(box_dir, uid, memory_mb, ruleset, features)


def _unprivileged_netns() -> bool:
    """Without root: a user namespace mapping only our own ids, holding an empty network namespace."""
    uid, gid = os.getuid(), os.getgid()
    if not unshare(CLONE_NEWUSER | CLONE_NEWNET):
        return False
    return map_own_ids(uid, gid)


def _blocked_ancestors(paths: list[str]) -> dict[str, set[str]]:
    """{ancestor without o+x: names below it that an unprivileged uid must reach}."""
    blocked: dict[str, set[str]] = {}
    for path in paths:
        parts = os.path.realpath(path).split(os.sep)
        for depth in range(1, len(parts) - 1):
            ancestor = os.sep.join(parts[: depth + 1]) or os.sep
            try:
                mode = os.stat(ancestor).st_mode
            except OSError:
                break
            if not mode & 0o001:
                blocked.setdefault(ancestor, set()).add(parts[depth + 1])
                break
    return blocked


def _make_traversable(roots: list[str], scratch: str) -> bool:
    """Let the dropped uid reach the interpreter when it lives under a private dir (e.g. pyenv in /root).

    In a private mount namespace of the worker, the private directory is replaced by a traversable tmpfs
    holding bind mounts of just the needed entries; nothing else under it is visible to the children.
    """
    for ancestor, names in _blocked_ancestors(roots).items():
        # In the worker's own directory. (Not tempfile: it imports shutil, which loads zlib, bz2 and lzma
        # into the image that every child copies.)
        stash = os.path.join(scratch, f"stash-{os.urandom(8).hex()}")
        os.mkdir(stash, 0o700)
        saved = []
        for name in sorted(names):
            target, source = os.path.join(stash, name), os.path.join(ancestor, name)
            os.mkdir(target) if os.path.isdir(source) else open(target, "w").close()
            if not mount(source, target, None, MS_BIND | MS_REC):
                return False
            saved.append((name, target))
        if not mount("tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0711,size=64k"):
            return False
        for name, target in saved:
            place = os.path.join(ancestor, name)
            os.mkdir(place, 0o755) if os.path.isdir(target) else open(place, "w").close()
            if not mount(target, place, None, MS_BIND | MS_REC):
                return False
        # Detach the stash so nothing (least of all a recursive delete) can reach the real tree through it.
        for _, target in saved:
            libc.umount2(target.encode(), 2)  # MNT_DETACH
            os.rmdir(target) if os.path.isdir(target) else os.unlink(target)
        os.rmdir(stash)
    return True


def confine_zygote(spec: SandboxSpec, cpu_seconds: int) -> None:
    """Once, in the zygote: every step that would be identical in every child.

    Everything here is inherited by each process the zygote forks, so no child pays for it: no_new_privs, the
    Landlock domain (restrict_self merges its ~900 rules into a new domain on every call), the hard limits,
    /dev/null as stdio, the box as working directory, and on the own-uid path the seccomp filter. Once
    confined the zygote reads and writes nothing, and it holds no job data (zygote.py).

    Own-uid path: the zygote stays root (exempt from RLIMIT_NPROC; the programs cannot signal or trace it)
    and each child drops to the worker's uid. Pid-namespace path (no root): the zygote enters the user and
    mount namespaces every child shares (pidns.py) and makes itself non-dumpable; each child adds its own
    pid namespace, drops the capabilities it holds in the shared user namespace (else they would reach the
    zygote), then installs the filter (which forbids new namespaces). Where the shared namespaces cannot be
    set up, each child applies everything itself, as confine_child does without a zygote.
    """
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    if spec.uid is None:
        if not enter_shared_namespaces(spec.box_dir):
            return
        inherited = {"shared_namespaces": True, "read_only_mounts": True}
    else:
        # A mount namespace of the zygote's own (the worker keeps writing its box dir, cgroups and /proc):
        # the children see every mount read-only but the box, so their reads never touch an atime.
        inherited = {"read_only_mounts": unshare(CLONE_NEWNS) and read_only_except_box(spec.box_dir)}
        os.chdir(spec.box_dir)
    # RLIMIT_CPU counts per process, from zero in each child (whose job lowers it to its own budget).
    inherited["rlimits"] = _set_limits(spec, cpu_seconds)
    inherited["no_new_privs"] = prctl(PR_SET_NO_NEW_PRIVS, 1)
    inherited["landlock"] = False
    if spec.ruleset is not None and spec.ruleset.fd >= 0:
        inherited["landlock"] = spec.ruleset.restrict_self()
        os.close(spec.ruleset.fd)
    if spec.uid is None:
        inherited["not_dumpable"] = prctl(PR_SET_DUMPABLE, 0)  # inherited: the programs share our uid
    else:
        inherited["seccomp"] = spec.seccomp_filter.install(libc)
        inherited["sysv_ipc_denied"] = inherited["seccomp"]
    spec.inherited = inherited


def _confine_zygote_child(spec: SandboxSpec, channel: tuple[int, int], worker_pid: int) -> dict[str, bool]:
    """The per-child steps left once the zygote applied the rest (confine_zygote).

    Every line here runs in every child, and each object it touches is a page copied: kept to a few
    syscalls. Leftovers of an earlier program of this uid are swept by the worker, and by the child itself
    when the worker asks (Session.run_batch)."""
    os.setpgid(0, 0)  # own process group: the worker kills the group as a whole
    _keep_only_channel(channel)
    features = {**spec.inherited, **_CHILD_STEPS}
    if spec.uid is None:
        return _enter_own_pid_namespace(spec, worker_pid, features)
    if not features["seccomp"]:
        # No filter to deny SysV IPC: a private IPC namespace per child instead (shm/sem/msg die with it).
        features["ipc_namespace"] = unshare(CLONE_NEWIPC)
    _drop_to_uid(spec.uid, worker_pid, sweep=False)  # or exits: never skipped
    features["uid_drop"] = True
    features["not_dumpable"] = prctl(PR_SET_DUMPABLE, 0)
    return features


_CHILD_STEPS = {"process_group": True, "pdeathsig": True}


def _enter_own_pid_namespace(
    spec: SandboxSpec, worker_pid: int, features: dict[str, bool]
) -> dict[str, bool]:
    """Pid-namespace path with the zygote's shared namespaces: become pid 1 of a new pid namespace (a waiter
    stays behind), give up every capability, then install the filter. Fails closed."""
    if not prctl(PR_SET_PDEATHSIG, signal.SIGKILL) or os.getppid() != worker_pid:
        os._exit(70)  # the worker died before the parent-death signal was armed
    filtered = spec.seccomp_filter.supported
    if not unshare(PER_CHILD_FLAGS if filtered else PER_CHILD_FLAGS_WITHOUT_SECCOMP):
        os._exit(70)  # the program would share a pid namespace with the zygote: never run it
    fork_as_pid_one(CHANNEL_FDS)
    # A group of its own: the waiter shares our Landlock domain, so kill(0) must not reach it (the worker
    # kills the program as pid 1 of its namespace, which takes every process in it along).
    os.setpgid(0, 0)
    if not drop_capabilities():
        os._exit(CAPABILITY_DROP_FAILED)
    features["pid_namespace"] = features["capabilities_dropped"] = True
    if not filtered:
        features["ipc_namespace"] = True  # unshared with the pid namespace: no filter to deny SysV IPC
    features["seccomp"] = features["sysv_ipc_denied"] = spec.seccomp_filter.install(libc)
    features["netns"] = spec.worker_features.get("netns", False)
    return features


def _keep_only_channel(channel: tuple[int, int]) -> None:
    """Move the channel to fds 3 and 4 (close-on-exec) and close every other fd above stdio."""
    read_fd, write_fd = channel
    if write_fd == CHANNEL_FDS[0]:  # would be overwritten by the read end before it is moved
        write_fd = fcntl.fcntl(write_fd, fcntl.F_DUPFD, CHANNEL_FDS[1] + 1)
    for source, target in zip((read_fd, write_fd), CHANNEL_FDS):
        if source == target:
            os.set_inheritable(target, False)
        else:
            os.dup2(source, target, inheritable=False)
    os.closerange(CHANNEL_FDS[1] + 1, 1 << 20)  # one close_range(2) call on Linux


def _drop_to_uid(uid: int, worker_pid: int, sweep: bool) -> None:
    """Become the worker's unprivileged uid (no groups) and die with the worker; with `sweep`, first kill
    every other process of that uid (leftovers of an earlier program of this worker)."""
    try:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    except OSError:
        os._exit(UID_DROP_FAILED)  # fail closed: never run a program as the worker's (root) uid
    if sweep:
        sweep_own_uid()
    # Armed only now: a credential change clears the parent-death signal. Then make sure the worker did not
    # die before it was armed (else this child would outlive it).
    if not prctl(PR_SET_PDEATHSIG, signal.SIGKILL) or os.getppid() != worker_pid:
        os._exit(70)


def sweep_own_uid() -> None:
    """Kill every other process of the caller's uid (never shared with a live worker, see pool.py). The
    kernel walks every process for this, so it is done only when the worker saw leftovers."""
    with contextlib.suppress(OSError):  # ESRCH: there were none
        os.kill(-1, signal.SIGKILL)


def confine_child(
    spec: SandboxSpec, channel: tuple[int, int], worker_pid: int, cpu_seconds: int
) -> dict[str, bool]:
    """Confine the current (freshly forked) process; returns which protections are active."""
    if spec.inherited is not None:
        return _confine_zygote_child(spec, channel, worker_pid)
    active: dict[str, bool] = {}
    # Own process group: the worker kills the group as a whole. The worker already runs in its own session
    # with no controlling terminal (and setsid here would cost ~2 ms: a new scheduler autogroup per call).
    os.setpgid(0, 0)
    active["process_group"] = True
    # Only the channel survives: stdin/stdout/stderr go to /dev/null, every other inherited fd is closed.
    # Move the fds we keep above the low numbers first so that dup2 onto 0..3 cannot clobber them.
    read_fd, write_fd = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in channel)
    ruleset_fd = -1
    if spec.ruleset is not None and spec.ruleset.fd >= 0:
        ruleset_fd = fcntl.fcntl(spec.ruleset.fd, fcntl.F_DUPFD, 10)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(read_fd, CHANNEL_FDS[0], inheritable=False)
    os.dup2(write_fd, CHANNEL_FDS[1], inheritable=False)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    _close_fds_except({0, 1, 2, *CHANNEL_FDS, ruleset_fd})
    os.chdir(spec.box_dir)
    active["rlimits"] = _set_limits(spec, cpu_seconds)
    if spec.uid is None:
        active["pdeathsig"] = prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != worker_pid:  # the worker died between fork and prctl
            os._exit(70)
        # No root, so no uid of its own: run the program as pid 1 of a fresh pid namespace instead, where it
        # can name (and so signal) no process outside, and whose death takes all its descendants with it.
        active.update(enter_pid_namespace(spec.box_dir, worker_pid, CHANNEL_FDS))
        active["ipc_namespace"] = active["pid_namespace"]  # unshared together
    else:
        # A plain fork of the worker (no zygote yet): private IPC and mount namespaces, then the uid drop.
        active["ipc_namespace"] = unshare(CLONE_NEWIPC)
        active["read_only_mounts"] = unshare(CLONE_NEWNS) and read_only_except_box(spec.box_dir)
        _drop_to_uid(spec.uid, worker_pid, sweep=True)
        active["uid_drop"] = active["pdeathsig"] = True
    active["no_new_privs"] = prctl(PR_SET_NO_NEW_PRIVS, 1)
    active["landlock"] = False
    if ruleset_fd >= 0:
        active["landlock"] = spec.ruleset.restrict_self(ruleset_fd)
        os.close(ruleset_fd)
    active["not_dumpable"] = prctl(PR_SET_DUMPABLE, 0)
    # Last: keyring, io_uring, SysV IPC, AF_UNIX/NETLINK/PACKET/VSOCK sockets, memfd, namespaces -> EPERM.
    active["seccomp"] = spec.seccomp_filter.install(libc)
    active["sysv_ipc_denied"] = active["seccomp"]
    # The environment was already made minimal in the worker (setup_worker): nothing to copy-on-write here.
    active["netns"] = spec.worker_features.get("netns", False)
    return active


def _close_fds_except(keep: set[int]) -> None:
    highest = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    low = 0
    for fd in sorted(k for k in keep if k >= 0):
        if low < fd:  # never an empty range: CPython turns closerange(n, n) into "close everything from n"
            os.closerange(low, fd)  # close_range(2) on Linux: one syscall per gap
        low = fd + 1
    if low < highest:
        os.closerange(low, highest)


def _set_limits(spec: SandboxSpec, cpu_seconds: int) -> bool:
    limits = [
        (resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1)),
        (resource.RLIMIT_FSIZE, (spec.fsize_mb << 20,) * 2),
        (resource.RLIMIT_NOFILE, (spec.nofile,) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if spec.uid is not None:
        # Counted per real uid: exact with the child's own uid; with the caller's uid it would count (and
        # starve) every process that user runs, so the non-root path relies on its pid namespace instead.
        limits.append((resource.RLIMIT_NPROC, (spec.nproc,) * 2))
    if spec.memory_mb > 0:
        limits.append((resource.RLIMIT_AS, (spec.memory_mb << 20,) * 2))
    ok = True
    for kind, value in limits:
        try:
            resource.setrlimit(kind, value)
        except (OSError, ValueError):
            ok = False
    return ok
