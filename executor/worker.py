"""A trusted worker process: a lean, warm interpreter that forks one confined child per program and times it.

The worker never holds expected values: the pool sends it only the program and what the child must evaluate.
It does hold each job's program and test requests, so children are forked from a zygote taken before the
first job (zygote.py): a child forked at any moment (ahead of time, or for a reload after a timeout) has
nothing of any other job in its memory. (The pure worker, pure.py, runs no program at all.) Messages with
the pool are length-prefixed `marshal` data on stdin/stdout (both ends trusted, builtin types only). The
worker keeps its memory small on purpose: fork and exit cost grows with it.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import math
import os
import select
import signal
import struct
import sys
import time
from functools import partial
from typing import Any

from executor import child as child_module
from executor import probe as _probe  # noqa: F401  (warm: children cannot import from the project tree)
from executor.bounds import clip
from executor.boxclean import empty_dir
from executor.cgroup import join_cpu_group, leave_cpu_group
from executor.linux import PR_SET_PDEATHSIG, prctl, umount_detach
from executor.memcg import enter_as_zygote, make_memory_group, mark_as_child, remove_groups
from executor.phases import restore, whole_last
from executor.replies import ReplyError, checked_test_reply, load_problem
from executor.sandbox import (
    SandboxSpec,
    confine_child,
    confine_zygote,
    setup_worker,
)
from executor.wire import HEADER, MAX_FRAME, FrameError, decode_frame, read_exact, write_raw
from executor.zygote import Zygote

# Warm imports: a child starts with these loaded. Kept to what generated programs use most; each MiB here
# costs every fork and exit (hashlib, dataclasses, statistics, ... are imported on demand instead).
WARM_MODULES = (
    "typing",
    "collections",
    "re",
    "math",
    "itertools",
    "functools",
    "heapq",
    "bisect",
    "string",
    "operator",
    "copy",
    "random",
)

_PIPE_HEADER = struct.Struct(">Q")
MEMORY_GROUP_EXTRA_MB = 256 + 64  # above --memory-mb: the box tmpfs and the zygote
JOB_REPLY_BYTES = 20 << 20  # all reply frames of one job together (each is also capped at MAX_FRAME) ...
REPLY_BYTES_PER_TEST = 4 << 10  # ... plus this much per test: honest jobs with 20,000 tests fit
SPARE_CPU_SECONDS = 24 * 3600  # a child lowers this to its job's budget before running any program code
# Tests sent to one child at most: a job's request frames, resends after a timeout (each one carries the
# remaining tests) and a batch's CPU budget stay bounded however many tests a job has.
MAX_BATCH_TESTS = 1024


def new_nonce() -> int:
    """A fresh unguessable request id."""
    return int.from_bytes(os.urandom(8), "big")


def new_nonces(count: int) -> list[int]:
    """`count` fresh request ids from one getrandom call."""
    data = os.urandom(8 * count)
    return [int.from_bytes(data[i : i + 8], "big") for i in range(0, len(data), 8)]


def encode_message(obj: Any) -> bytes:
    """One length-prefixed message (trusted peers only; builtin types)."""
    data = marshal.dumps(obj)
    return _PIPE_HEADER.pack(len(data)) + data


def send_message(fd: int, obj: Any) -> None:
    """Write one message."""
    write_all(fd, encode_message(obj))


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` (blocking)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def recv_message(fd: int) -> Any:
    """Read one message; exact-size reads so nothing beyond it is buffered here."""
    (size,) = _PIPE_HEADER.unpack(read_exact(fd, _PIPE_HEADER.size))
    return marshal.loads(read_exact(fd, size))


class WorkerBroken(Exception):
    """The zygote is gone: no child can be started any more, so this worker must be replaced."""


class ChildGone(Exception):
    """The child died, hung or broke the protocol; `outcome` says which."""

    def __init__(self, outcome: str, error: str) -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error


class Child:
    """One confined child process and its two pipes (requests in, replies out)."""

    def __init__(self, worker: Worker) -> None:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        self.worker = worker
        # From the zygote (never held a job, see zygote.py); a plain fork only before it exists (startup).
        zygote = worker.zygote
        try:
            pid = zygote.spawn((request_read, reply_write)) if zygote is not None else os.fork()
        except OSError as err:
            for fd in (request_read, request_write, reply_read, reply_write):
                os.close(fd)
            raise WorkerBroken(f"cannot start a child: {err}") from err
        if pid == 0:  # child: never returns
            try:
                os.close(request_write)
                os.close(reply_read)
                child_module.FEATURES = confine_child(
                    worker.spec, (request_read, reply_write), worker.pid, SPARE_CPU_SECONDS
                )
                child_module.main()
            finally:
                os._exit(70)
        os.close(request_read)
        os.close(reply_write)
        if worker.memory_group is not None:
            mark_as_child(pid)  # before the child's first request: no program code has run in it yet
        self.pid, self.write_fd, self.read_fd = pid, request_write, reply_read
        self.pending = bytearray()  # read from the reply pipe, not yet returned by _read
        self.alive = True
        self.exit_fd = _pidfd(pid)  # readable once the child has exited: wait for that, never poll

    def request(self, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait for its single reply, under a hard deadline."""
        nonce = new_nonce()
        self.send({"n": nonce, **payload})
        return self.reply(nonce, time.monotonic() + timeout)

    def send(self, payload: dict[str, Any]) -> None:
        """Write one request frame (marshal: the child trusts what this process sends, never the reverse)."""
        try:
            write_raw(self.write_fd, marshal.dumps(payload))
        except OSError as err:
            raise self._gone(f"channel write failed ({err.strerror})") from err

    def reply(self, nonce: int, deadline: float, check: Any = None) -> Any:
        """The next reply frame; it must answer `nonce`, else the channel was tampered with. `check` (see
        replies.py) rebuilds it from fields it validates; a reply that does not fit is a violation."""
        (size,) = HEADER.unpack(self._read(HEADER.size, deadline))
        if size > MAX_FRAME:
            raise self._violation(f"reply frame of {size} bytes exceeds the {MAX_FRAME}-byte limit")
        # Trusted memory is bounded per job, not only per frame (red-team #14: 8 x 16 MiB -> 1.8 GiB).
        self.worker.reply_budget -= size
        if self.worker.reply_budget < 0:
            raise self._violation(f"replies of this job exceed {JOB_REPLY_BYTES >> 20} MiB in total")
        try:
            reply = decode_frame(self._read(size, deadline))
        except FrameError as err:
            raise self._violation(str(err)) from err
        if reply.get("n") != nonce:
            raise self._violation("reply does not answer this request (forged or stray write on the channel)")
        if check is None:
            return reply
        try:
            return check(reply)
        except ReplyError as err:
            raise self._violation(str(err)) from err

    def _read(self, size: int, deadline: float) -> bytes:
        """`size` bytes of the reply stream; reads what the pipe holds (often the next frames too, which
        are kept for the next call) instead of one header and one body read per reply."""
        pending = self.pending
        while len(pending) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                self.kill()
                raise ChildGone("timeout", "time limit exceeded")
            try:
                chunk = os.read(self.read_fd, min(max(size - len(pending), 1 << 16), 1 << 20))
            except OSError:
                chunk = b""
            if not chunk:
                raise self._gone("program ended the process")
            pending += chunk
        data = bytes(pending[:size])
        del pending[:size]
        return data

    def _violation(self, why: str) -> ChildGone:
        self.kill()
        return ChildGone("crash", f"protocol violation: {why}")

    def _gone(self, why: str) -> ChildGone:
        status = self._wait_exit(grace=0.2)
        self.kill()
        if status is None:
            return ChildGone("crash", f"{why}: closed its result channel")
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU:
                return ChildGone("timeout", "CPU time limit exceeded (SIGXCPU)")
            return ChildGone("crash", f"{why}: killed by {signal.Signals(sig).name}")
        return ChildGone("crash", f"{why}: exited with code {os.WEXITSTATUS(status)} before replying")

    def _wait_exit(self, grace: float) -> int | None:
        """The child's wait status once it has exited within `grace` seconds, else None."""
        end = time.monotonic() + grace
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.alive = False
                self._close_exit_fd()
                return status
            left = end - time.monotonic()
            if left <= 0:
                return None
            if self.exit_fd >= 0:
                select.select([self.exit_fd], [], [], left)  # wakes the moment the child is a zombie
            else:
                time.sleep(min(left, 0.002))  # no pidfd (Linux < 5.3): poll

    def _close_exit_fd(self) -> None:
        if self.exit_fd >= 0:
            os.close(self.exit_fd)
            self.exit_fd = -1

    def signal_kill(self) -> None:
        """Close the pipes and SIGKILL the program, without waiting for it to die."""
        for fd in (self.write_fd, self.read_fd):
            if fd >= 0:
                os.close(fd)
        self.write_fd = self.read_fd = -1
        if not self.alive:  # once reaped, its pid may belong to someone else: never signal it again
            return
        if self.worker.spec.uid is None:
            # Pid-namespace path: our child only waits for the program (pid 1 of its namespace). Kill the
            # program; the kernel then kills the whole namespace and the waiter exits once it is all gone.
            program = _children_of(self.pid)
            for pid in program:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if program:
                return
        for target in (
            lambda: os.killpg(self.pid, signal.SIGKILL),
            lambda: os.kill(self.pid, signal.SIGKILL),
        ):
            with contextlib.suppress(OSError):
                target()

    def reap(self) -> None:
        """Wait for the killed child, then sweep whatever it left behind and empty the box."""
        if self.alive and self._wait_exit(grace=0.5) is None:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
        self.alive = False
        self._close_exit_fd()
        self.worker.sweep()

    def kill(self) -> None:
        """Kill now and clean up before returning."""
        self.signal_kill()
        self.reap()


class Worker:
    """Runs jobs one at a time for the pool."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.pid = os.getpid()
        uid = config["uid"] if os.geteuid() == 0 and config["uid"] is not None else None
        tmp = config.get("tmp", "/tmp")
        _remove_stale_boxes(tmp)
        self.root = os.path.join(tmp, f"acecoder-exec-{self.pid}-{new_nonce():x}")
        os.mkdir(self.root, 0o711)
        self.box = os.path.join(self.root, "box")
        os.mkdir(self.box, 0o700)
        if uid is not None:
            os.chown(self.box, uid, uid)
        self.uid = uid
        self.spec: SandboxSpec = setup_worker(self.box, uid, config["memory_mb"], config["read_roots"])
        # One CPU share for this worker and everything it forks (before the zygote, so children inherit it).
        self.cpu_group = join_cpu_group(f"{new_nonce():x}")
        self.spec.worker_features["cpu_group"] = self.cpu_group is not None
        # One memory limit for all processes of a program, box and shm included (joined by the zygote).
        limit = (self.spec.memory_mb + MEMORY_GROUP_EXTRA_MB) << 20 if self.spec.memory_mb > 0 else 0
        self.memory_group = make_memory_group(f"{new_nonce():x}", limit) if limit else None
        self.spec.worker_features["memory_group"] = self.memory_group is not None
        self.spare: Child | None = None  # forked and confined ahead of the next job
        self.zygote: Zygote | None = None  # started by main() before any job arrives
        self.reply_budget = JOB_REPLY_BYTES  # set per job (run_job); spent by Child.reply
        self.leftovers = False  # set by sweep(): a program left processes behind

    def prepare_zygote(self) -> None:
        """In the zygote, once: join the children's memory group, then the confinement every child shares."""
        enter_as_zygote(self.memory_group)
        confine_zygote(self.spec, SPARE_CPU_SECONDS)

    def spawn_child(self, fds: tuple[int, ...]) -> None:
        """In a new child (forked by the zygote): confine it and serve requests; never returns."""
        child_module.FEATURES = confine_child(self.spec, fds, self.pid, SPARE_CPU_SECONDS)
        child_module.main()

    def sweep(self) -> None:
        """Kill every process a program left behind (orphans are re-parented here), then empty the box."""
        keep = {self.spare.pid} if self.spare is not None else set()
        if self.zygote is not None:
            keep.add(self.zygote.pid)
        for _ in range(200):
            stray = [pid for pid in self._children() if pid not in keep]
            if not stray:
                break
            self.leftovers = True  # the next child also sweeps its uid before loading its program
            for pid in stray:  # each is our child (zombies included), so its pid cannot be reused yet
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            if self.uid is not None and self.spare is None:
                self._kill_uid()
            time.sleep(0.001)
        _empty_dir(self.box)

    def _children(self) -> list[int]:
        return _children_of(self.pid)

    def _kill_uid(self) -> None:
        # kill(-1) from a process running as the program's uid reaches exactly that uid's processes.
        pid = os.fork()
        if pid == 0:
            try:
                os.setresuid(self.uid, self.uid, self.uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)

    def spare_pids(self) -> list[int]:
        """The idle pre-forked child and its helper descendants (pid-namespace path): none ran a program."""
        pids = [self.spare.pid] if self.spare is not None else []
        for pid in pids:
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{pid}/children") as handle:
                pids.extend(int(p) for p in handle.read().split())
        return pids + ([self.zygote.pid] if self.zygote is not None else [])

    def take_child(self) -> Child:
        """The pre-forked child, or a new one."""
        child, self.spare = self.spare, None
        return child if child is not None else Child(self)

    def prepare_spare(self) -> None:
        """Fork and confine the next job's child while the pool is busy reading this job's result."""
        if self.spare is None:
            self.spare = Child(self)

    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """Load the program in a child, run every test under its own deadline, reload after a failure. Any
        error of this worker's own while doing so is this job's crash: the worker lives on for the next."""
        try:
            return self._run_job(job)
        except WorkerBroken:
            raise
        except Exception as err:
            return {"status": "crash", "load_error": clip(f"executor worker error: {err!r}"), "tests": []}

    def _run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        timeout, load_timeout = job["timeout_s"], job["load_timeout_s"]
        order, boundary = whole_last(job["tests"])  # whole tests (expected values inside) go last
        tests = [job["tests"][i] for i in order]
        self.reply_budget = JOB_REPLY_BYTES + REPLY_BYTES_PER_TEST * len(tests)
        out: list[dict[str, Any]] = []
        status, load_error = "ok", None
        child = self.take_child()
        try:
            while True:
                # One batch: load, then the next tests of this phase; each reply timed from the previous.
                todo = tests[len(out) : boundary] if len(out) < boundary else tests[len(out) :]
                todo = todo[:MAX_BATCH_TESTS]
                nonces = new_nonces(len(todo) + 1)
                # RLIMIT_CPU is a backstop behind the per-reply deadlines: never above the hard limit.
                cpu = min(math.ceil(timeout * max(len(todo), 1) + load_timeout) + 1, SPARE_CPU_SECONDS)
                batch = {"op": "run", "program": job["program"], "run": not job["stdio"], "tests": todo}
                batch["sweep"] = self.leftovers
                child.send({**batch, "nonces": nonces, "cpu": cpu})
                self.leftovers = False
                problem = self._load_reply(child, nonces[0], time.monotonic() + load_timeout)
                if problem is not None:
                    if not out:
                        status, load_error = problem
                    else:
                        error = f"reload failed: {problem[1]}"
                        rest = tests[len(out) :]
                        out.extend({"outcome": "skipped", "error": error, "seconds": 0.0} for _ in rest)
                    break
                finished = self._run_tests(child, list(zip(nonces[1:], todo)), timeout, out)
                if len(out) == len(tests):
                    break
                if finished:
                    # Batch done. At the end of the split phase this also means that whole tests get a
                    # child that never saw the split tests.
                    child.kill()
                child = Child(self)  # a fresh process for the remaining tests
        except ChildGone as gone:
            if not out:
                status, load_error = gone.outcome, f"while loading: {gone.error}"
            else:
                rest = tests[len(out) :]
                out.extend({"outcome": gone.outcome, "error": gone.error, "seconds": 0.0} for _ in rest)
        finally:
            # Everything the program started is dead and reaped before its result leaves this process.
            child.kill()
        if status == "ok":
            out = restore(order, out)
        return {"status": status, "load_error": load_error, "tests": out}

    @staticmethod
    def _run_tests(
        child: Child, steps: list[tuple[int, dict[str, Any]]], timeout: float, out: list[dict[str, Any]]
    ) -> bool:
        """Collect one checked reply per (nonce, test request); False when the child had to be killed (the
        caller reloads)."""
        for nonce, request in steps:
            start = time.perf_counter()
            try:
                reply = child.reply(nonce, time.monotonic() + timeout, partial(checked_test_reply, request))
            except ChildGone as gone:
                out.append(
                    {"outcome": gone.outcome, "error": gone.error, "seconds": time.perf_counter() - start}
                )
                return False
            out.append({"reply": reply, "seconds": time.perf_counter() - start})
        return True

    @staticmethod
    def _load_reply(child: Child, nonce: int, deadline: float) -> tuple[str, str] | None:
        """(status, error) when the program cannot be loaded, else None."""
        try:
            problem = child.reply(nonce, deadline, load_problem)
        except ChildGone as gone:
            return gone.outcome, f"while loading: {gone.error}"
        if problem is not None:
            child.kill()
        return problem

    def probe(self, request: dict[str, Any]) -> dict[str, Any]:
        """Start one confined child and let it try forbidden things (for --check-sandbox)."""
        child = self.take_child()
        try:
            zygote = {"zygote_pid": self.zygote.pid} if self.zygote is not None else {}
            reply = child.request({"op": "probe", "worker_pid": self.pid, **zygote, **request}, 30.0)
        except ChildGone as gone:
            reply = {"error": gone.error}
        finally:
            child.kill()
        return {"worker": self.spec.worker_features, "child": reply}

    def close(self) -> None:
        """Kill every child and leftover, and delete the sandbox directory."""
        if self.spare is not None:
            self.spare.signal_kill()
            self.spare = None
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None
        self.sweep()
        if self.spec.worker_features.get("box_tmpfs"):
            umount_detach(self.box)  # the box tmpfs goes away with its files
        _empty_dir(self.root)
        with contextlib.suppress(OSError):
            os.rmdir(self.root)
        leave_cpu_group(self.cpu_group)
        remove_groups(self.pid)  # the memory group: its zygote and children are gone by now


def _pidfd(pid: int) -> int:
    """A pidfd for our child `pid` (it cannot be reaped before we wait, so the pid is still ours), or -1."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return -1


def _children_of(pid: int) -> list[int]:
    """Pids of `pid`'s children (read after every job: raw fd calls, no text file object)."""
    try:
        fd = os.open(f"/proc/{pid}/task/{pid}/children", os.O_RDONLY)
    except OSError:
        return []
    try:
        data = b"".join(iter(lambda: os.read(fd, 65536), b""))
    except OSError:
        data = b""
    finally:
        os.close(fd)
    return [int(p) for p in data.split()]


def _remove_stale_boxes(tmp: str) -> None:
    """Delete sandbox dirs of workers killed before they could clean up (e.g. SIGKILL of the CLI)."""
    try:
        names = [n for n in os.listdir(tmp) if n.startswith("acecoder-exec-")]
    except OSError:
        return
    for name in names:
        try:
            pid = int(name.split("-")[2])
            os.kill(pid, 0)
            continue  # its worker (or a process reusing the pid) is alive: leave it
        except ProcessLookupError:
            pass
        except (ValueError, IndexError, PermissionError):
            continue
        path = os.path.join(tmp, name)
        _empty_dir(path)
        with contextlib.suppress(OSError):
            os.rmdir(path)


def _empty_dir(path: str) -> None:
    """Delete everything inside `path` without following symlinks or crossing into other mounts.

    fd-relative and iterative (boxclean.py): no PATH_MAX or recursion limit, and it never raises, so a
    program's directory tree can neither survive into the next job nor kill this worker. Leftovers are
    reported on stderr (never silently ignored)."""
    left = empty_dir(path)
    if left:
        os.write(2, f"acecoder exec: could not empty {path}: {left} entries left\n".encode())


def add_site_packages(site_dirs: list[str]) -> None:
    """What `site` gives programs, without running it: the worker starts with -S because the site hooks
    (an editable install's import finder pulls in pathlib, urllib, ipaddress, ...) would make every child
    bigger, and so every fork and exit slower. Installed packages stay importable (no .pth processing), and
    exit()/quit()/help() exist as in a normal interpreter."""
    import site  # with -S, importing site changes nothing by itself

    site.setquit()
    site.setcopyright()
    site.sethelper()
    sys.path.extend(d for d in site_dirs if d not in sys.path)
    # `-c` puts the working directory first on the path: in a child that is the box, so a module the program
    # wrote there (which could rebind builtins behind the planner's back) would be importable.
    sys.path[:] = [d for d in sys.path if d and os.path.isabs(d)]


def main() -> None:
    """Serve the pool on stdin/stdout until EOF."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the worker dies with the pool
    in_fd, out_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)  # stray prints from this process can never corrupt the pool pipe
    config = recv_message(in_fd)
    add_site_packages(config.get("site_dirs", []))
    for name in WARM_MODULES:
        with contextlib.suppress(ImportError):
            __import__(name)
    worker = Worker(config)
    # Everything alive now is shared with every child: keep the collector from ever walking (and so
    # copying-on-write) those pages in a child.
    gc.collect()
    gc.freeze()
    # Before any job: every child is forked from this state (and charged to the memory group).
    worker.zygote = Zygote(worker.spawn_child, worker.prepare_zygote)
    worker.spec.worker_features["zygote"] = True
    send_message(out_fd, {"ready": True, "features": worker.spec.worker_features})
    try:
        while True:
            try:
                message = recv_message(in_fd)
            except EOFError:
                break
            op = message.get("op")
            if op == "job":
                send_message(out_fd, worker.run_job(message))
                message = None  # the spare is forked next: it must not find this job in our frame
                with contextlib.suppress(OSError):  # e.g. out of fds: the next job forks its own child
                    worker.prepare_spare()
            elif op == "spare":
                send_message(out_fd, {"pids": worker.spare_pids()})
            elif op == "probe":
                send_message(out_fd, worker.probe(message))
            elif op == "exit":
                break
    finally:
        worker.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
