"""`acecoder exec`: ordered results, resume after SIGKILL, bad input named by line/field, --check-sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

CLI = [sys.executable, "-m", "acecoder_jax.cli", "exec"]

SLOW = "import time\ndef f(x):\n    time.sleep(0.15)\n    return x * 2\n"


def write_jobs(path: Path, count: int, program: str = SLOW) -> list[dict]:
    jobs = []
    for i in range(count):
        tests = [f"assert f({i}) == {2 * i}", f"assert f({i}) == {2 * i + (i % 3 == 0)}"]
        jobs.append({"id": f"job-{i}", "program": program, "tests": tests})
    path.write_text("".join(json.dumps(job) + "\n" for job in jobs))
    return jobs


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_results_in_input_order_with_progress(tmp_path):
    jobs_path, out = tmp_path / "jobs.jsonl", tmp_path / "results.jsonl"
    jobs = write_jobs(jobs_path, 8, program="def f(x):\n    return x * 2\n")
    jobs.append(
        {"id": 99, "program": "print(int(input()) + 1)", "tests": [{"input": "1\n", "output": "2\n"}]}
    )
    jobs_path.write_text("".join(json.dumps(job) + "\n" for job in jobs))
    done = run_cli("--input", str(jobs_path), "--output", str(out), "--workers", "2", "--timeout", "2")
    assert done.returncode == 0, done.stderr
    rows = read_rows(out)
    assert [row["id"] for row in rows] == [job["id"] for job in jobs]
    for i, row in enumerate(rows[:8]):
        assert set(row) == {"id", "status", "pass_rate", "tests"}
        assert row["pass_rate"] == (0.5 if i % 3 == 0 else 1.0)
    assert rows[8]["pass_rate"] == 1.0 and rows[8]["tests"][0]["mode"] == "stdio"
    assert "exec: 100% 9/9" in done.stderr


def test_resume_after_sigkill(tmp_path):
    jobs_path, out = tmp_path / "jobs.jsonl", tmp_path / "results.jsonl"
    jobs = write_jobs(jobs_path, 40)
    proc = subprocess.Popen(
        [*CLI, "--input", str(jobs_path), "--output", str(out), "--workers", "2"],
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 6):
        time.sleep(0.05)
    descendants = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = read_rows(out)
    assert 6 <= len(partial) < len(jobs), len(partial)
    # A kill mid-write leaves a torn last line: simulate the worst case on top of the real kill.
    with out.open("a") as handle:
        handle.write('{"id": "job-torn", "status": "o')
    _, alive = psutil.wait_procs(descendants, timeout=30)
    assert alive == [], alive  # workers and their children die with the CLI

    done = run_cli("--input", str(jobs_path), "--output", str(out), "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert f"resuming, {len(partial)} of {len(jobs)}" in done.stderr
    rows = read_rows(out)
    assert [row["id"] for row in rows] == [job["id"] for job in jobs]
    assert rows[: len(partial)] == partial  # rows already written are never rewritten
    rates = [row["pass_rate"] for row in rows]
    assert rates == [0.5 if i % 3 == 0 else 1.0 for i in range(len(jobs))], [
        r for r in rows if r["status"] != "ok"
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"id": "x", "program": "def f(): pass", "tests": [}\n', "jobs.jsonl:3: malformed JSON"),
        (b'{"id": "x", "tests": ["assert True"]}\n', "jobs.jsonl:3: missing field 'program'"),
        (
            b'{"id": "x", "program": "p", "tests": "assert True"}\n',
            "jobs.jsonl:3: field 'tests' must be list",
        ),
        (b'{"id": "x", "program": "p", "tests": ["ok", 5]}\n', "jobs.jsonl:3: field 'tests[1]'"),
        (
            b'{"id": "x", "program": "p", "tests": [{"input": "1"}]}\n',
            "jobs.jsonl:3: field 'tests[0].output'",
        ),
        (b'{"id": "x", "program": "\xff\xfe", "tests": []}\n', "jobs.jsonl:3: not valid UTF-8"),
        (
            b'{"id": "job-0", "program": "p", "tests": []}\n',
            "jobs.jsonl:3: field 'id' repeats the id of line 1",
        ),
        (b"[1, 2]\n", "jobs.jsonl:3: expected a JSON object"),
    ],
    ids=[
        "malformed",
        "missing-field",
        "tests-type",
        "test-entry-type",
        "stdio-output",
        "non-utf8",
        "dup-id",
        "array",
    ],
)
def test_bad_input_names_line_and_field_and_keeps_results(tmp_path, line, message):
    jobs_path, out = tmp_path / "jobs.jsonl", tmp_path / "results.jsonl"
    good = b"".join(
        json.dumps(
            {"id": f"job-{i}", "program": "def f(x):\n    return x\n", "tests": ["assert f(1) == 1"]}
        ).encode()
        + b"\n"
        for i in range(2)
    )
    jobs_path.write_bytes(good)
    assert run_cli("--input", str(jobs_path), "--output", str(out)).returncode == 0
    before = out.read_bytes()
    jobs_path.write_bytes(good + line)
    done = run_cli("--input", str(jobs_path), "--output", str(out))
    assert done.returncode == 2
    assert message in done.stderr, done.stderr
    assert out.read_bytes() == before


def test_missing_arguments_is_a_usage_error():
    done = run_cli()
    assert done.returncode == 2
    assert "--input and --output are required" in done.stderr


def test_check_sandbox_reports_protections():
    done = run_cli("--check-sandbox")
    assert "confinement step" in done.stdout and "blocked" in done.stdout
    report = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] in ("yes", "NO"):
            report[parts[0]] = parts[1] == "yes"
    for probe in ("write_outside_box", "signal_worker", "signal_pool", "read_worker_memory", "ptrace_worker"):
        assert probe in report
    if os.geteuid() == 0:  # as root: an own uid and a network namespace are always available
        for probe in ("signal_worker", "signal_pool", "read_worker_memory", "ptrace_worker", "tcp_loopback"):
            assert report[probe], done.stdout
        assert report["uid_drop"] and report["netns"], done.stdout
        # the zygote is root and shares the children's Landlock domain: only the uid keeps them apart
        for probe in ("signal_zygote", "read_zygote_memory", "ptrace_zygote", "sysv_ipc"):
            assert report[probe], done.stdout
    if report.get("landlock"):  # with Landlock too, every probe is blocked (and as root every step active)
        assert done.returncode == 0, done.stdout
        assert all(report.values()) or os.geteuid() != 0, done.stdout
