"""The executor on a real Ray cluster, kept inside a network namespace this test creates (only its loopback
exists there, so Ray's servers cannot reach or be reached from the machine's interfaces)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("creating a network namespace needs root and iproute2")
    name = f"acecoder-ray-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
        for pid in pids:  # only processes inside the namespace this test made: ours
            subprocess.run(["kill", "-KILL", pid], check=False)
        subprocess.run(["ip", "netns", "del", name], check=False)
        assert not pids, f"processes left in {name} after the run: {pids}"


@pytest.mark.slow
def test_ray_cluster_matches_local_and_survives_a_dead_node(netns, tmp_path):
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            netns,
            sys.executable,
            str(ROOT / "tests" / "ray_cluster_driver.py"),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=400,
        start_new_session=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["exit_code"] == 0
    assert report["nodes"] == 2
    assert report["matches_local"], report["mismatches"]
    assert report["score_matches_local"], "score --ray writes what the local score writes"
    assert "sandbox complete" in run.stderr or "sandbox MISSING" in run.stderr
    assert report["kill_ids"] == list(range(400)), "every job has exactly one result, in input order"
    assert report["kill_pass_rates"] == [1.0]
    assert report["rerun_batches"] >= 1, "the second node died with batches in flight"
