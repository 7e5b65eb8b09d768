"""Regression tests for the second red-team round (issue 12, classes 3-7; see docs/executor.md).

Each test failed on the code the red team attacked. Classes: covert channels between jobs (locks, leases,
file-change notification, page-cache residency, access times), unbounded child strings on the trusted side,
forged reply frames of wrong shape, large test counts, malformed input rows and test sources.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time

import pytest

from executor import Executor, Job, Result
from executor.jsonl import JsonlError, ResumableJsonlWriter, iter_jsonl
from executor.pool import WorkerHandle

PATHS = [True, False]
PATH_IDS = ["own-uid", "pid-namespace"]
HONEST = "def f(x):\n    return x + 1\n"


@pytest.fixture(scope="module", params=PATHS, ids=PATH_IDS)
def executor(request):
    """Both confinement paths (own uid as root; the path without root forced by drop_privileges=False)."""
    with Executor(
        workers=2, timeout_s=2.0, memory_mb=512, load_timeout_s=3.0, drop_privileges=request.param
    ) as ex:
        yield ex


def worker_pids(ex: Executor) -> list[int]:
    return [handle.proc.pid for handle in ex._handles]


def concurrently(drop: bool, first: Job, second: Job) -> tuple[Result, Result]:
    """Run two jobs at the same time on two separate pools (one worker each)."""
    out: dict[str, Result] = {}
    with (
        Executor(workers=1, timeout_s=5.0, drop_privileges=drop) as one,
        Executor(workers=1, timeout_s=5.0, drop_privileges=drop) as two,
    ):
        thread = threading.Thread(target=lambda: out.update(first=one.run([first])[0]))
        thread.start()
        out["second"] = two.run([second])[0]
        thread.join()
    return out["first"], out["second"]


# ---- class 3: covert channels between jobs ----

# Every way a program could leave a mark on a shared file outside the box that another program can see.
CHANNEL_CALLS = r"""
import ctypes, errno, fcntl, mmap, os, string, struct
libc = ctypes.CDLL(None, use_errno=True)
SHARED = string.__file__  # a stdlib file every child can read
DIRECTORY = os.path.join(os.path.dirname(SHARED), "email")  # (the stdlib dir itself is not listable)

def _raw(number, *args):
    if libc.syscall(number, *args) < 0:
        raise OSError(ctypes.get_errno(), "refused")

def _buffer(size):
    return ctypes.create_string_buffer(size)

def _flock(fd, cmd):
    record = struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0)
    return fcntl.fcntl(fd, cmd, record)

def attempts():
    fd = os.open(SHARED, os.O_RDONLY)
    directory = os.open(DIRECTORY, os.O_RDONLY)
    calls = {
        "flock": lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB),
        "posix_lock": lambda: _flock(fd, fcntl.F_SETLK),
        "posix_lock_wait": lambda: _flock(fd, fcntl.F_SETLKW),
        "posix_query": lambda: _flock(fd, fcntl.F_GETLK),
        "ofd_lock": lambda: _flock(fd, 37),  # F_OFD_SETLK
        "ofd_lock_wait": lambda: _flock(fd, 38),
        "ofd_query": lambda: _flock(fd, 36),
        "lease": lambda: fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK),
        "lease_query": lambda: fcntl.fcntl(fd, fcntl.F_GETLEASE),
        "dnotify": lambda: fcntl.fcntl(directory, fcntl.F_NOTIFY, fcntl.DN_ACCESS | fcntl.DN_MULTISHOT),
        "inotify_init": lambda: _raw(253),
        "inotify_init1": lambda: _raw(294, 0),
        "fanotify": lambda: _raw(300, 0, 0),
        "fadvise_evict": lambda: os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED),
        "cachestat": lambda: _raw(451, fd, _buffer(16), _buffer(40), 0),
    }
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, *(ctypes.c_int,) * 3, ctypes.c_long)
    page = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)  # a page of the shared file
    calls["mincore"] = lambda: _raw(27, ctypes.c_void_p(page), 4096, _buffer(1))
    calls["madvise_pageout"] = lambda: _raw(28, ctypes.c_void_p(page), 4096, 21)
    calls["madvise_cold"] = lambda: _raw(28, ctypes.c_void_p(page), 4096, 20)
    calls["process_madvise"] = lambda: _raw(440, -1, None, 0, 21, 0)
    reached = []
    for name, call in calls.items():
        try:
            call()
            reached.append(name)
        except OSError as err:
            if err.errno in (errno.EBADF, errno.EFAULT) and name == "process_madvise":
                reached.append(name)  # the call got past the filter
    return reached

def ordinary():
    # fcntl stays usable for everything but locks, leases and notification
    fd = os.open(SHARED, os.O_RDONLY)
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    os.set_blocking(fd, False)
    os.set_inheritable(copy, True)
    r, w = os.pipe()
    size = fcntl.fcntl(r, fcntl.F_GETPIPE_SZ)
    anonymous = mmap.mmap(-1, 1 << 16)
    anonymous.madvise(mmap.MADV_DONTNEED)  # ordinary advice still works
    return copy >= 10 and flags & os.O_ACCMODE == os.O_RDONLY and size > 0
"""


def test_lock_lease_notify_and_page_cache_calls_are_refused(executor):
    (result,) = executor.run(
        [Job("calls", CHANNEL_CALLS, ["assert attempts() == []", "assert ordinary() is True"])]
    )
    assert [t.outcome for t in result.tests] == ["pass", "pass"], result.to_dict()


HOLDER = r"""
import fcntl, os, string, struct, time
def hold(seconds):
    fd = os.open(string.__file__, os.O_RDONLY)
    record = struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0)
    for take in (lambda: fcntl.flock(fd, fcntl.LOCK_EX), lambda: fcntl.fcntl(fd, fcntl.F_SETLK, record),
                 lambda: fcntl.fcntl(fd, 37, record)):
        try:
            take()
        except OSError:
            pass
    time.sleep(seconds)
    return 1
"""
TESTER = r"""
import fcntl, os, string, struct, time
def observed(delay):
    time.sleep(delay)
    fd = os.open(string.__file__, os.O_RDONLY)
    seen = []
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        seen.append("flock")
    except OSError:
        pass
    for name, cmd in (("posix", fcntl.F_GETLK), ("ofd", 36)):
        query = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)
        try:
            if struct.unpack("hhqqi", fcntl.fcntl(fd, cmd, query))[0] != fcntl.F_UNLCK:
                seen.append(name)
        except OSError:
            pass
    return seen
"""


@pytest.mark.parametrize("drop", PATHS, ids=PATH_IDS)
def test_two_concurrent_children_cannot_signal_through_a_lock(drop):
    holder = Job("holder", HOLDER, ["assert hold(2.0) == 1"])
    tester = Job("tester", TESTER, ["assert observed(0.8) == []"])
    held, seen = concurrently(drop, holder, tester)
    assert held.pass_rate == 1.0, held.to_dict()
    assert seen.pass_rate == 1.0, seen.to_dict()  # before: ['flock', 'posix', 'ofd'] were visible


READER = r"""
import os
def read(path, directory):
    with open(path, "rb") as handle:
        data = handle.read()
    return len(data) > 0 and len(os.listdir(directory)) > 0
def stamp(path):
    return os.stat(path).st_atime
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="backdating a stdlib file's atime needs its owner")
@pytest.mark.parametrize("drop", PATHS, ids=PATH_IDS)
def test_reading_files_outside_the_box_leaves_their_atime_alone(drop):
    stdlib = sysconfig.get_paths()["stdlib"]
    # files no executor process reads itself (the worker's own imports list e.g. the json package)
    target, directory = os.path.join(stdlib, "this.py"), os.path.join(stdlib, "wsgiref")
    saved = {p: os.stat(p) for p in (target, directory)}
    two_days_ago = time.time_ns() - 2 * 86400 * 10**9  # relatime would update an atime this old
    try:
        for path, st in saved.items():
            os.utime(path, ns=(two_days_ago, st.st_mtime_ns))
        with Executor(workers=1, timeout_s=5.0, drop_privileges=drop) as ex:
            (first,) = ex.run([Job("reader", READER, [f"assert read({target!r}, {directory!r})"])])
            # a later, separate job reads the timestamp back: it must carry nothing
            (later,) = ex.run(
                [Job("later", READER, [f"assert stamp({target!r}) < {two_days_ago / 1e9 + 1}"])]
            )
        assert first.pass_rate == 1.0 and later.pass_rate == 1.0, (first.to_dict(), later.to_dict())
        for path in saved:
            assert os.stat(path).st_atime_ns == two_days_ago, path  # host metadata unchanged
    finally:
        for path, st in saved.items():
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


FALLBACK = r"""
import errno, os, sys
from executor.linux import CLONE_NEWNS, MS_BIND, MS_PRIVATE, MS_REC, mount, unshare
from executor.mounts import never_records_atime, remount_each_read_only
box = sys.argv[1]
assert unshare(CLONE_NEWNS) and mount(None, "/", None, MS_REC | MS_PRIVATE) and mount(box, box, None, MS_BIND)
assert remount_each_read_only(box)
with open(os.path.join(box, "inside"), "w") as handle:
    handle.write("the box stays writable")
try:
    open(os.path.join(os.path.dirname(box), "outside"), "w")
    sys.exit("wrote outside the box")
except OSError as err:
    assert err.errno == errno.EROFS, err
points = [line.split()[4] for line in open("/proc/self/mountinfo")]
left = [p for p in points if p != box and os.path.exists(p) and not never_records_atime(p)]
assert left == [], left
print("ok")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="a mount namespace of its own needs root")
def test_kernels_without_mount_setattr_remount_each_mount_read_only(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    done = subprocess.run([sys.executable, "-c", FALLBACK, str(box)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_check_sandbox_probes_locks_notification_and_atime(executor):
    report = executor.probe()
    active = {**report["worker"], **report["child"]["probes"]["active"]}
    checks = report["child"]["probes"]["checks"]
    for probe in ("file_lock", "file_lease", "inotify", "dnotify", "fanotify", "page_cache", "atime"):
        assert checks.get(probe) is True, (probe, checks)
    assert active.get("read_only_mounts") is True, active


# ---- class 4: every string from the child is bounded on the trusted side ----

ERROR_CHARS = 1100  # about 1 KB per error, with room for the note that says how much was cut


def line_of(result: Result) -> int:
    return len(json.dumps(result.to_dict()))


def strings_of(result: Result) -> list[str]:
    return [s for s in [result.error, *(t.error for t in result.tests)] if s is not None]


BIG_ERRORS = {
    "module-name": "raise ModuleNotFoundError('x', name='A' * 15_000_000)\n",
    "exception-name": "raise type('E' * 3_000_000, (Exception,), {})('boom')\n",
    "import-name": "__import__('m' * 5_000_000)\n",
}


@pytest.mark.parametrize("name", sorted(BIG_ERRORS))
def test_load_errors_are_bounded_in_every_test_and_the_line(executor, name):
    tests = [f"assert f({i}) == {i + 1}" for i in range(100)]
    (result,) = executor.run([Job("big", BIG_ERRORS[name], tests)])
    assert result.status in ("load_error", "syntax_error"), result.status
    assert all(len(s) <= ERROR_CHARS for s in strings_of(result))
    assert line_of(result) < 150_000, line_of(result)  # was 1.5 GB with the module name
    if name == "module-name":
        assert "missing dependency" in result.error and "missing dependency" in result.tests[0].error


HUGE_IN_TESTS = r"""
import json, os, struct, sys
def boom(i):
    raise ValueError("V" * 400 + str(i))
def renamed(i):
    raise type("N" * 2_000_000, (Exception,), {})("x" * 2_000_000)
class Odd:
    pass
Odd.__qualname__ = "Q" * 3_000_000
def odd(i):
    return Odd()
def _nonce():
    frame = sys._getframe()
    while frame is not None and not (frame.f_code.co_name == "answer" and "nonce" in frame.f_locals):
        frame = frame.f_back
    return frame.f_locals["nonce"]
def forged(i):
    body = json.dumps({"n": _nonce(), "kind": "exception", "error": "F" * (12 << 20)}).encode()
    os.write(4, struct.pack(">I", len(body)) + body)
    os._exit(0)
"""


@pytest.mark.parametrize(
    "test",
    ["assert renamed(1) == 1", "assert odd(1) == 1", "assert forged(1) == 1", "x = renamed(1)\nassert x"],
)
def test_error_text_from_a_test_is_bounded(executor, test):
    (result,) = executor.run([Job("huge", HUGE_IN_TESTS, ["assert boom(1) == 1", test])])
    assert result.pass_rate == 0.0
    assert all(len(s) <= ERROR_CHARS for s in strings_of(result)), [len(s) for s in strings_of(result)]
    assert "V" * 400 in result.tests[0].error  # an error under the limit arrives whole


def test_the_result_line_is_bounded_with_many_failing_tests(executor):
    tests = [f"assert boom({i}) == 1" for i in range(3000)]
    (result,) = executor.run([Job("many", HUGE_IN_TESTS, tests)])
    assert [t.outcome for t in result.tests] == ["error"] * 3000
    assert line_of(result) < 1_000_000, line_of(result)  # 3000 x 400 characters and more
    assert "V" * 400 in result.tests[0].error  # the first errors keep their text


def test_stdio_output_and_errors_are_bounded(executor):
    programs = {
        "loud": "import sys\nsys.stdout.write('x' * (6 << 20))\n",
        "raises": "raise type('E' * (6 << 20), (Exception,), {})('y')\n",
    }
    jobs = [Job(name, program, [{"input": "", "output": "1\n"}] * 3) for name, program in programs.items()]
    for result in executor.run(jobs):
        assert result.pass_rate == 0.0
        assert all(len(s) <= ERROR_CHARS for s in strings_of(result)), result.id
        assert line_of(result) < 20_000


# ---- class 5: forged reply frames of the wrong shape never harm the worker ----

FORGER = r"""
import json, os, struct, sys
SHAPE = {shape!r}
def _nonce():
    frame = sys._getframe()
    while frame is not None and not (frame.f_code.co_name == "answer" and "nonce" in frame.f_locals):
        frame = frame.f_back
    return frame.f_locals["nonce"]
def _forge():
    body = json.dumps({{"n": _nonce(), **json.loads(SHAPE)}}).encode()
    os.write(4, struct.pack(">I", len(body)) + body)
    os._exit(0)
if {at_load}:
    _forge()
def f(x):
    _forge()
"""
LOAD_SHAPES = [
    {"kind": [1]},
    {"kind": {"a": 1}, "error": "x"},
    {"kind": "syntax", "error": 5},
    {"kind": None, "error": ["x"]},
    {"ok": "yes"},
    {"ok": 1},
    {"ok": [True]},
    {"ok": True, "values": 5},
    {},
    {"error": {"nested": [[[["junk"]]]]}},
]
TEST_SHAPES = [
    {"values": 5},
    {"values": "vv"},
    {"values": [["v"]]},
    {"values": [[1, 2]]},
    {"values": [["v", 2]], "groups": [[0, True]]},
    {"values": [["v", 2]], "groups": {"0": "yes"}},
    {"values": [["v", 2]], "groups": {"x": True}},
    {"values": [["v", 2]], "failed": "x", "kind": "exception", "error": "e"},
    {"values": [["v", 2]], "failed": 7, "kind": "exception", "error": "e"},
    {"values": [["o", [1]]], "groups": {}},
    {"values": [["v", ["l", 5]]], "groups": {}},
    {"values": [], "groups": {}},
    {"values": [["v", 2], ["v", 2]], "groups": {}},
    {"ok": "yes"},
    {"ok": True},
    {"stdout": 3},
    {"kind": [1], "error": "x"},
    {"kind": "exception", "error": None},
    {"error": {"a": [1]}},
    {"failed": 0},
]
WHOLE_SHAPES = [
    {"ok": "yes"},
    {"ok": 1},
    {"ok": [True]},
    {"values": [["v", 2]], "groups": {}},
    {"stdout": "x"},
]
STDIO_SHAPES = [{"stdout": 3}, {"stdout": ["7\n"]}, {"stdout": "7\n", "junk": 1}, {"ok": True}]


def forged_jobs() -> list[Job]:
    jobs = []

    def add(shapes: list[dict], at_load: bool, tests: list) -> None:
        for shape in shapes:
            program = FORGER.format(shape=json.dumps(shape), at_load=at_load)
            jobs.append(Job(f"forged-{len(jobs)}", program, tests))

    add(LOAD_SHAPES, True, ["assert f(1) == 2"])
    add(TEST_SHAPES, False, ["assert f(1) == 2"])
    add(WHOLE_SHAPES, False, ["x = f(1)\nassert x == 2"])
    stdio = [{"input": "3 4\n", "output": "7\n"}]
    for shape in STDIO_SHAPES:
        program = FORGER.format(shape=json.dumps(shape), at_load="__name__ == '__main__'")
        jobs.append(Job(f"forged-{len(jobs)}", program, stdio))
    return jobs


def test_forged_frames_of_every_shape_leave_the_worker_alive(executor):
    before = worker_pids(executor)
    forged = forged_jobs()
    jobs: list[Job] = []
    for i, job in enumerate(forged):
        jobs += [
            job,
            Job(f"honest-{i}", HONEST, [f"assert f({i}) == {i + 1}", f"x = f({i})\nassert x == {i + 1}"]),
        ]
    results = {r.id: r for r in executor.run(jobs)}
    for job in forged:
        assert results[job.id].pass_rate == 0.0, results[job.id].to_dict()
        assert all(len(s) <= ERROR_CHARS for s in strings_of(results[job.id]))
    for i in range(len(forged)):
        assert results[f"honest-{i}"].pass_rate == 1.0, results[f"honest-{i}"].to_dict()
    assert worker_pids(executor) == before  # no worker restarted (each restart costs ~5x throughput)


def test_an_unexpected_error_in_the_worker_is_that_jobs_crash():
    handle = WorkerHandle(memory_mb=512)
    try:
        pid = handle.proc.pid
        bad = {"op": "job", "id": "x", "program": "", "tests": [{"op": "leaves"}], "stdio": False}
        reply = handle.call({**bad, "timeout_s": "soon", "load_timeout_s": None}, 30.0)
        assert reply["status"] == "crash" and "executor worker error" in reply["load_error"]
        good = {
            "op": "job",
            "id": "y",
            "program": HONEST,
            "tests": [{"op": "whole", "code": "assert f(1) == 2"}],
        }
        reply = handle.call({**good, "stdio": False, "timeout_s": 2.0, "load_timeout_s": 3.0}, 30.0)
        assert reply["status"] == "ok" and reply["tests"][0]["reply"] == {"ok": True}
        assert handle.proc.poll() is None and handle.proc.pid == pid
    finally:
        handle.close()


# ---- class 6: large test counts ----


def test_1500_tests_at_timeout_60_pass():
    with Executor(workers=1, timeout_s=60.0) as ex:
        tests = [f"assert f({i}) == {i}" for i in range(1500)]
        (result,) = ex.run([Job("many", "def f(x):\n    return x\n", tests)])
    assert result.status == "ok" and result.pass_rate == 1.0, (result.status, result.error)


@pytest.mark.parametrize("drop", PATHS, ids=PATH_IDS)
def test_20000_tests_on_one_job_pass_with_a_big_timeout(drop):
    split = [f"assert f({i}) == {i}" for i in range(19_000)]
    whole = [f"y = f({i})\nassert y == {i}" for i in range(600)]
    pure = [f"assert f('{i}') == str({i})" for i in range(400)]  # program-free sides: the pure worker
    with Executor(workers=2, timeout_s=600.0, drop_privileges=drop) as ex:
        (result,) = ex.run([Job("huge", "def f(x):\n    return x\n", split + whole + pure)])
        (stdio,) = ex.run(
            [Job("io", "print(input())\n", [{"input": f"{i}\n", "output": f"{i}\n"} for i in range(3000)])]
        )
    assert result.status == "ok" and result.pass_rate == 1.0, (result.status, result.error)
    assert {t.mode for t in result.tests} == {"split", "whole"}
    assert stdio.status == "ok" and stdio.pass_rate == 1.0, (stdio.status, stdio.error)


def test_no_child_gets_an_unbounded_batch(executor):
    program = textwrap.dedent(
        """
        import sys
        def batch():
            frame = sys._getframe()
            while frame is not None and "nonces" not in frame.f_locals:
                frame = frame.f_back
            return len(frame.f_locals["request"]["tests"])
        """
    )
    (result,) = executor.run([Job("batch", program, ["assert batch() <= 1024"] * 3000)])
    assert result.pass_rate == 1.0, result.tests[0].error


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 0.0, -1.0])
def test_timeouts_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError, match="timeout"):
        Executor(timeout_s=bad)
    with pytest.raises(ValueError, match="timeout"):
        Executor(timeout_s=1.0, load_timeout_s=bad)


# ---- class 7: malformed input rows and test sources ----

BAD_ROWS = {
    "deep-array": (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    "deep-object": (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested too deeply"),
    "deep-inside-row": (b'{"id": 1, "tests": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    "long-int": (b'{"id": ' + b"7" * 5000 + b', "program": "", "tests": []}', "integer"),
    "long-int-nested": (b'{"id": 1, "x": [{"y": -' + b"9" * 100_000 + b"}]}", "integer"),
}


@pytest.mark.parametrize("name", sorted(BAD_ROWS))
def test_malformed_rows_name_file_and_line(tmp_path, name):
    raw, what = BAD_ROWS[name]
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"id": 0, "program": "", "tests": []}\n' + raw + b"\n")
    with pytest.raises(JsonlError, match=rf"rows\.jsonl:2: .*{what}"):
        list(iter_jsonl(path))
    with pytest.raises(JsonlError, match=r"rows\.jsonl:2: "):
        ResumableJsonlWriter(path)  # the resume path reads an existing output file the same way


def run_cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "acecoder_jax.cli", "exec", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_cli_reports_malformed_rows_without_a_traceback(tmp_path):
    good = json.dumps({"id": "a", "program": HONEST, "tests": ["assert f(1) == 2"]}) + "\n"
    jobs, out = tmp_path / "jobs.jsonl", tmp_path / "out.jsonl"
    for raw, what in BAD_ROWS.values():
        jobs.write_bytes(good.encode() + raw + b"\n")
        done = run_cli("--input", str(jobs), "--output", str(out))
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert f"{jobs}:2: " in done.stderr and what in done.stderr, done.stderr[-500:]
    jobs.write_text(good)
    out.write_bytes(BAD_ROWS["deep-array"][0] + b"\n")  # a corrupted results file to resume from
    done = run_cli("--input", str(jobs), "--output", str(out))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"{out}:1: " in done.stderr


def test_other_readers_name_the_row(tmp_path):
    from acecoder_jax.common.rows import iter_rows
    from acecoder_jax.eval.benchmarks import load_benchmark
    from data_gen.json_repair import parse_synthesis_reply

    path = tmp_path / "rows.jsonl"
    path.write_bytes(BAD_ROWS["long-int"][0] + b"\n")
    with pytest.raises(JsonlError, match=r"rows\.jsonl:1: .*integer"):
        list(iter_rows(path))
    for reply in ("[" * 200_000, '{"question": "q", "tests": [' + "1" * 5000 + "]}", '{"a": ' * 50_000):
        parsed = parse_synthesis_reply(reply)  # a model's reply: unusable, never an exception
        assert not parsed.ok and parsed.error
    for case in ({"input": "[" * 100_000, "output": "1"}, {"input": "1", "output": "2" * 5000}):
        row = {
            "question_id": "1",
            "question_content": "q",
            "public_test_cases": json.dumps([{**case, "testtype": "functional"}]),
            "metadata": json.dumps({"func_name": "f"}),
        }
        lcb = tmp_path / "lcb.jsonl"
        lcb.write_text(json.dumps(row) + "\n")
        with pytest.raises(JsonlError, match=r"lcb\.jsonl:1: "):
            load_benchmark("livecodebench", lcb)


HOSTILE_TESTS = [
    "assert f(1) == " + "+".join(["1"] * 600),  # parses, but too deep for the planner's recursion
    "assert f(" + "-" * 900 + "1) == 1",
    "assert f(" + "0x" + "f" * 5000 + ") == 1",  # a leaf with an int too long for decimal text
    "x = f(0x" + "f" * 5000 + ")\nassert x",
    "y = 1\nassert f(" + "-" * 900 + "1) == 1",
    "assert f(1) == 1" + "0" * 5000,  # an int literal past the digit limit
    "assert f(" + "(" * 300 + "1" + ")" * 300 + ") == 1",
    "assert f(1) == " + "not " * 100_000 + "1",
]


def test_hostile_test_sources_are_per_test_errors(executor):
    tests = ["assert f(1) == 2", *HOSTILE_TESTS, "assert f(2) == 3"]
    (result,) = executor.run([Job("hostile", HONEST, tests)])
    assert result.status == "ok", result.to_dict()
    outcomes = [t.outcome for t in result.tests]
    assert outcomes[0] == outcomes[-1] == "pass", outcomes
    assert all(o == "error" for o in outcomes[1:-1]), outcomes
    assert all(len(s) <= ERROR_CHARS for s in strings_of(result))
