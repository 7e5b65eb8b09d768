"""`acecoder serve-exec` as a process: refuses to start unauthenticated off loopback, serves with a token,
finishes an in-flight request on SIGTERM and leaves no process behind."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from executor import Job
from executor.client import ExecClient, ExecServiceError

SERVE = [sys.executable, "-m", "acecoder_jax.cli", "serve-exec"]


def start(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [*SERVE, *args], stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    line = process.stdout.readline()
    assert "listening on http://127.0.0.1:" in line, line
    return process, line.split("listening on ")[1].split()[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "0"], "no token"),
        (["--port", "0", "--no-auth", "--host", "0.0.0.0"], "--no-auth is allowed only on a loopback"),
    ],
)
def test_refuses_to_start_without_a_token(args, message):
    env = {k: v for k, v in os.environ.items() if k != "ACECODER_EXEC_TOKEN"}
    run = subprocess.run([*SERVE, *args], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 2
    assert message in run.stderr


def test_serves_then_stops_cleanly_leaving_no_processes(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("file-token\n")
    process, url = start(
        [
            "--port",
            "0",
            "--workers",
            "1",
            "--timeout",
            "1",
            "--idle-timeout",
            "1",
            "--token-file",
            str(token_file),
        ]
    )
    try:
        workers = psutil.Process(process.pid).children(recursive=True)
        assert workers, "the warm executor's workers are children of the service"
        client = ExecClient(url, "file-token", retries=0)
        with pytest.raises(ExecServiceError) as err:
            ExecClient(url, "env-token", retries=0).exec([])
        assert err.value.status == 401
        idle = http.client.HTTPConnection(*url.removeprefix("http://").split(":"), timeout=30)
        idle.request("GET", "/health")
        assert idle.getresponse().read()  # kept alive and left idle: shutdown must not wait on it forever
        results: list = []
        slow = Job("slow", "def spin():\n    while True:\n        pass\n", ["spin()"])
        inflight = threading.Thread(target=lambda: results.extend(client.exec([slow])))
        inflight.start()
        deadline = time.monotonic() + 10
        while client.health()["inflight"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        inflight.join(timeout=30)
        assert [r["status"] for r in results] == ["ok"]
        assert [t["outcome"] for t in results[0]["tests"]] == ["timeout"]
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
