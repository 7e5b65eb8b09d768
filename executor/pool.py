"""The Executor: a pool of trusted worker processes, kept warm across calls, that judge jobs in order.

The pool process holds the expected values: it plans each test (plan.py), ships the worker only what the
program's child must evaluate, has program-free expected sides computed by a worker that never loads a
program (pure.py), and judges the plain values that come back (judge.py).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import math
import os
import queue
import select
import site
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from executor.bounds import ErrorBudget, clip
from executor.cgroup import forget_worker
from executor.job import Job, Result, Test, TestResult
from executor.judge import judge_split, outputs_match
from executor.paths import read_roots
from executor.plan import TestPlan, plan_test, program_view
from executor.precompile import child_request
from executor.program_names import ProgramNames
from executor.pure import PureValues
from executor.uids import SLOTS_IN_USE
from executor.worker import encode_message, recv_message, send_message, write_all

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BOOT = f"import sys; sys.path.insert(0, {_PACKAGE_PARENT!r}); from executor.worker import main; main()"
_UID_BASE = 1 << 30  # children run as unused uids: (1<<30) + (pool pid << 8) + slot; never a real account
PIPELINE = 2  # jobs queued in each worker's pipe: it never idles waiting for this process to wake up
PIPE_ROOM = 60 << 10  # below the 64 KiB a Linux pipe holds
MAX_WAIT_S = 1e9  # select() refuses longer timeouts (tests x timeout can exceed it)


@functools.lru_cache(maxsize=1)
def _site_dirs() -> list[str]:
    """This interpreter's site-packages directories (a virtualenv's included): importable in the sandbox."""
    return [path for path in site.getsitepackages() if os.path.isdir(path)]


@functools.lru_cache(maxsize=1)
def _read_roots() -> list[str]:
    return read_roots()


class WorkerDied(Exception):
    """A worker process exited or stopped answering."""


class WorkerHandle:
    """One worker process and its pipes (pool side)."""

    def __init__(self, memory_mb: int, drop_privileges: bool = True) -> None:
        self.slot = SLOTS_IN_USE.acquire()  # released once this worker is reaped (see uids.py)
        self.uid = _UID_BASE + ((os.getpid() & 0x3FFFFF) << 8) + self.slot
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _BOOT],  # no site hooks: see worker.add_site_packages
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd="/",
            close_fds=True,
            start_new_session=True,  # no controlling terminal for the worker or its children
        )
        self.ready: dict[str, Any] | None = None
        config = {
            "uid": self.uid if drop_privileges else None,
            "memory_mb": memory_mb,
            "read_roots": _read_roots(),
            "tmp": tempfile.gettempdir(),
            "site_dirs": _site_dirs(),
        }
        send_message(self.proc.stdin.fileno(), config)

    def wait_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        """Block until the worker has started; returns its sandbox feature report."""
        if self.ready is None:
            self.ready = self.receive(timeout)
        return self.ready

    def call(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send a message and wait for the reply."""
        self.send(message)
        return self.receive(timeout)

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message in the worker's pipe (it answers messages in order)."""
        self.send_bytes(encode_message(message))

    def send_bytes(self, data: bytes) -> None:
        """Queue an encoded message (see encode_message)."""
        self.wait_ready()
        try:
            write_all(self.proc.stdin.fileno(), data)
        except OSError as err:
            raise WorkerDied(f"worker pipe closed ({err})") from err

    def receive(self, timeout: float) -> dict[str, Any]:
        """Read one reply under a deadline."""
        fd = self.proc.stdout.fileno()
        if not select.select([fd], [], [], min(timeout, MAX_WAIT_S))[0]:
            raise WorkerDied(f"worker did not answer within {timeout:.0f} s")
        try:
            return recv_message(fd)
        except Exception as err:  # a torn or unreadable message: this pipe is out of step, restart it
            raise WorkerDied(f"worker exited (code {self.proc.poll()})") from err

    def close(self) -> None:
        """Ask the worker to clean up and exit; kill it if it does not."""
        try:
            send_message(self.proc.stdin.fileno(), {"op": "exit"})
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait()
        finally:
            self.proc.stdout.close()
            self.reaped()

    def reaped(self) -> None:
        """The worker process has exited and been waited for: free its uid slot (once)."""
        if self.proc.returncode is not None and self.slot is not None:
            SLOTS_IN_USE.release(self.slot)
            self.slot = None
            forget_worker(self.proc.pid)  # its cpu cgroup, left behind when it was killed


class Executor:
    """Judge jobs in sandboxed processes: `with Executor(workers=2) as ex: results = ex.run(jobs)`."""

    def __init__(
        self,
        workers: int | None = None,
        timeout_s: float = 5.0,
        memory_mb: int = 1024,
        load_timeout_s: float | None = None,
        split_asserts: bool = True,
        drop_privileges: bool = True,
    ) -> None:
        self.workers = workers or len(os.sched_getaffinity(0))
        self.timeout_s = positive_seconds("timeout_s", timeout_s)
        self.memory_mb = int(memory_mb)
        self.load_timeout_s = positive_seconds(
            "load_timeout_s", load_timeout_s if load_timeout_s is not None else max(self.timeout_s, 5.0)
        )
        self.split_asserts = split_asserts  # False: every test runs whole in the child (for comparison)
        # False: children keep the caller's uid and rely on a pid namespace + Landlock (the non-root path).
        self.drop_privileges = drop_privileges
        self._handles: list[WorkerHandle] = []
        self._threads: list[threading.Thread] = []
        self._tasks: queue.Queue = queue.Queue()
        self._map_lock = threading.Lock()
        self._closed = False
        # Program-free leaves (expected values such as "a b".split()) run in a worker of their own.
        self._pure = PureValues(
            lambda: WorkerHandle(self.memory_mb, self.drop_privileges), self.timeout_s, self.load_timeout_s
        )

    # ---- lifecycle ----

    def __enter__(self) -> Executor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the worker processes (idempotent)."""
        if self._closed:
            raise RuntimeError("this Executor is closed; create a new one")
        if self._handles:
            return
        self._handles = [WorkerHandle(self.memory_mb, self.drop_privileges) for _ in range(self.workers)]
        for handle in self._handles:
            handle.wait_ready()
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._serve, args=(index,), daemon=True, name=f"executor-{index}"
            )
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop the workers; every child and leftover process is killed, sandbox directories deleted."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()
        for handle in self._handles:
            handle.close()
        self._pure.close()

    def features(self) -> dict[str, Any]:
        """The worker-level sandbox features active on this machine."""
        self.start()
        return dict(self._handles[0].wait_ready().get("features", {}))

    def probe(self, request: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the sandbox probes in one confined child (for --check-sandbox)."""
        self.start()
        return self._handles[0].call({"op": "probe", **(request or {})}, 120.0)

    def idle_children(self) -> list[int]:
        """Pids of the pre-forked, confined children waiting for the next job (they never ran a program)."""
        with self._map_lock:
            handles = [*self._handles, *self._pure.handles()]
            replies = [handle.call({"op": "spare"}, 30.0) for handle in handles]
        return [pid for reply in replies for pid in reply["pids"]]

    # ---- running jobs ----

    def run(self, jobs: Iterable[Job | dict[str, Any]]) -> list[Result]:
        """Judge every job; results in input order."""
        return list(self.map(jobs))

    def map(self, jobs: Iterable[Job | dict[str, Any]], window: int | None = None) -> Iterator[Result]:
        """Judge jobs lazily, yielding results in input order as soon as each is ready."""
        self.start()
        window = window or 64 * self.workers
        with self._map_lock:
            done: dict[int, Result] = {}
            cond = threading.Condition()
            source = iter(jobs)
            submitted = yielded = 0
            exhausted = False
            cancel = threading.Event()
            try:
                while True:
                    while not exhausted and submitted - yielded < window:
                        try:
                            job = _as_job(next(source), submitted)
                        except StopIteration:
                            exhausted = True
                            break
                        self._tasks.put((submitted, job, done, cond, cancel))
                        submitted += 1
                    if exhausted and yielded == submitted:
                        return
                    with cond:
                        while yielded not in done:
                            cond.wait()
                        result = done.pop(yielded)
                    yielded += 1
                    yield result
            finally:
                cancel.set()  # an abandoned iterator: queued jobs are dropped, not run

    def _serve(self, index: int) -> None:
        """Run tasks on worker `index` until the pool closes, keeping up to `PIPELINE` jobs in its pipe
        so that it starts the next job without waiting for this thread to wake up (replies come in order)."""
        inflight: collections.deque[tuple] = collections.deque()
        pending, stop = None, False
        while True:
            if pending is None and not stop and len(inflight) < PIPELINE:
                try:  # block only when the worker has nothing to do
                    task = self._tasks.get(block=not inflight)
                except queue.Empty:
                    task = ()
                if task is None:
                    stop = True
                elif task and not task[4].is_set():  # a cancelled task (abandoned iterator) is dropped
                    pending = self._prepare_task(task)
            if pending is not None and (not inflight or _fits(inflight, pending)):
                inflight.append(pending)
                pending = None
                with contextlib.suppress(WorkerDied):  # a dead pipe shows up when collecting
                    self._handles[index].send_bytes(inflight[-1][2])
            elif inflight:
                self._collect(index, inflight)
            elif stop:
                return

    def _collect(self, index: int, inflight: collections.deque) -> None:
        """Receive and deliver the oldest in-flight job's result; after a worker death, resend the others."""
        (number, job, done, cond, _), plans, _, budget = inflight.popleft()
        try:
            reply = self._handles[index].receive(budget)
            result = finalize(job, plans, reply, self._pure.lookup(plans))
        except WorkerDied as err:
            self._restart(index)
            result = _failed_result(job, plans, "crash", f"executor worker failed: {err}")
            for queued in inflight:  # queued behind the failed job: never started, so run it again
                with contextlib.suppress(WorkerDied):
                    self._handles[index].send_bytes(queued[2])
        except Exception as err:  # never leave map() waiting: an executor bug becomes a crash result
            result = _failed_result(job, plans, "crash", f"executor error: {err!r}")
        _deliver(number, result, done, cond)

    def _prepare_task(self, task: tuple) -> tuple | None:
        """(task, plans, message, budget), or None once a crash result was delivered (job not sendable)."""
        try:
            return (task, *self._prepare(task[1]))
        except Exception as err:  # never leave map() waiting: an executor bug becomes a crash result
            number, job, done, cond, _ = task
            error = f"executor error: {err!r}"
            tests = [TestResult("skipped", error, 0.0, "whole") for _ in job.tests]
            _deliver(number, bounded(Result(job.id, "crash", 0.0, tests, error=error)), done, cond)
            return None

    def _prepare(self, job: Job) -> tuple[list[TestPlan], bytes, float]:
        names = program_view(job.program, job.tests, self.split_asserts)
        plans = [_plan(t, self.split_asserts, names) for t in job.tests]
        self._pure.lookup(plans)  # evaluate (and cache) expected values while the worker is busy
        runnable = [p for p in plans if p.mode != "invalid"]
        message = {
            "op": "job",
            "id": job.id,
            "program": job.program,
            "tests": [child_request(p.request) for p in runnable],
            "timeout_s": self.timeout_s,
            "load_timeout_s": self.load_timeout_s,
            "stdio": any(p.mode == "stdio" for p in plans),
        }
        budget = (len(runnable) + 1) * (self.timeout_s + self.load_timeout_s + 1.0) + 30.0
        return plans, encode_message(message), budget

    def _restart(self, index: int) -> None:
        old = self._handles[index]
        old.proc.kill()
        old.proc.wait()
        old.proc.stdout.close()
        old.reaped()
        self._handles[index] = WorkerHandle(self.memory_mb, self.drop_privileges)


def _fits(inflight: collections.deque, pending: tuple) -> bool:
    """Whether every queued message fits in the worker's pipe at once: then writing one never blocks, so this
    thread cannot deadlock against a worker blocked writing a large reply that nobody reads yet."""
    return sum(len(item[2]) for item in inflight) + len(pending[2]) <= PIPE_ROOM


def _deliver(number: int, result: Result, done: dict[int, Result], cond: threading.Condition) -> None:
    with cond:
        done[number] = result
        cond.notify_all()


def positive_seconds(name: str, value: float | str) -> float:
    """A timeout: positive and finite (it scales every deadline and CPU limit)."""
    seconds = float(value)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {seconds}")
    return seconds


def _plan(test: Test, split: bool, names: ProgramNames) -> TestPlan:
    """The test's plan; a test the planner cannot handle (nested too deeply for its recursion, an int too
    long for decimal text, ...) is an error of that test, never a crash of its job (red-team round 2, #7)."""
    try:
        return plan_test(test, split, names)
    except Exception as err:
        return TestPlan("invalid", error=clip(f"test cannot be planned: {type(err).__name__}: {err}"))


def bounded(result: Result) -> Result:
    """`result` with its error texts clipped (bounds.py): about 1 KB each, and one budget for them all."""
    budget = ErrorBudget()
    result.error = budget(result.error)
    for test in result.tests:
        test.error = budget(test.error)
    return result


def _as_job(item: Job | dict[str, Any], number: int) -> Job:
    if isinstance(item, Job):
        return item
    return Job.from_row(item, f"job {number}")


def _failed_result(job: Job, plans: list[TestPlan], status: str, error: str) -> Result:
    tests = [TestResult("skipped", error, 0.0, "whole" if p.mode == "invalid" else p.mode) for p in plans]
    return bounded(Result(job.id, status, 0.0, tests, error=error))


def finalize(
    job: Job, plans: list[TestPlan], reply: dict[str, Any], pure: dict[str, tuple] | None = None
) -> Result:
    """Judge the worker's raw per-test replies against the plans (trusted side); `pure`: see pure.py."""
    if reply["status"] != "ok":
        return _failed_result(job, plans, reply["status"], str(reply["load_error"]))
    entries = iter(reply["tests"])
    tests: list[TestResult] = []
    for plan in plans:
        if plan.mode == "invalid":
            tests.append(TestResult("error", plan.error, 0.0, "whole"))
            continue
        entry = next(entries)
        if "reply" not in entry:
            tests.append(TestResult(entry["outcome"], entry["error"], entry["seconds"], plan.mode))
            continue
        outcome, error, mode = judge_reply(plan, entry["reply"], pure)
        tests.append(TestResult(outcome, error, entry["seconds"], mode))
    passed = sum(t.outcome == "pass" for t in tests)
    return bounded(Result(job.id, "ok", passed / len(tests) if tests else 0.0, tests))


def judge_reply(
    plan: TestPlan, reply: dict[str, Any], pure: dict[str, tuple] | None = None
) -> tuple[str, str | None, str]:
    """(outcome, error, mode) for one test from the child's reply."""
    if plan.mode == "split" and "values" in reply:
        return judge_split(plan, reply, pure)
    if "kind" in reply or "error" in reply:
        error = str(reply.get("error", "error"))
        if reply.get("kind") == "memory":
            return "memory", error, plan.mode
        outcome = "fail" if error.startswith("AssertionError") else "error"
        return outcome, error, plan.mode
    if plan.mode == "whole":
        return ("pass", None, "whole") if reply.get("ok") is True else ("error", "no verdict", "whole")
    if plan.mode == "stdio":
        stdout = reply.get("stdout")
        if not isinstance(stdout, str):
            return "error", "no output", "stdio"
        if outputs_match(stdout, plan.expected_output or ""):
            return "pass", None, "stdio"
        return "fail", f"wrong output: {stdout[:200]!r}", "stdio"
    return "error", "unexpected reply", plan.mode
