"""The executor on a real two-node Ray cluster: the head and a second node in two network namespaces this test
creates, joined by a veth pair whose addresses exist only inside them (so Ray's servers cannot reach or be
reached from the machine's interfaces); the driver runs in the head's namespace, kills the second raylet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from netns import command_line, pids_in, stop_all, veth_namespaces

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parent.parent
RAY = Path(sys.executable).parent / "ray"  # the CLI of the Ray this interpreter imports
PORT = 6390  # the head's GCS port; it exists only inside the head's namespace


def start_node(namespace: str, env: dict[str, str], *flags: str) -> None:
    """`ray start` inside `namespace` (one CPU, no dashboard, no usage stats)."""
    command = ["ip", "netns", "exec", namespace, str(RAY), "start", "--num-cpus=1", "--disable-usage-stats"]
    run = subprocess.run([*command, *flags], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def raylet_pid(namespace: str) -> int:
    """The raylet of the node running in `namespace`."""
    (pid,) = [pid for pid in pids_in(namespace) if "/raylet/raylet " in command_line(pid)]
    return pid


@pytest.mark.slow
def test_ray_cluster_matches_local_and_survives_a_dead_node(tmp_path):
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    with veth_namespaces("ray") as ((head, head_ip), (second, second_ip)):
        try:
            start_node(head, env, "--head", f"--node-ip-address={head_ip}", f"--port={PORT}")
            start_node(second, env, f"--address={head_ip}:{PORT}", f"--node-ip-address={second_ip}")
            driver = [sys.executable, str(ROOT / "tests" / "ray_cluster_driver.py"), str(tmp_path)]
            run = subprocess.run(
                ["ip", "netns", "exec", head, *driver, f"{head_ip}:{PORT}", str(raylet_pid(second))],
                capture_output=True,
                text=True,
                env=env,
                timeout=400,
                start_new_session=True,
            )
        finally:
            stop_all((head, second))
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["exit_code"] == 0
    assert report["nodes"] == 2
    assert report["node_ips"] == [head_ip, second_ip], "the nodes talk over the veth pair"
    assert report["matches_local"], report["mismatches"]
    assert report["score_matches_local"], "score --ray writes what the local score writes"
    assert "sandbox complete" in run.stderr or "sandbox MISSING" in run.stderr
    assert report["kill_ids"] == list(range(400)), "every job has exactly one result, in input order"
    assert report["kill_pass_rates"] == [1.0]
    assert report["rerun_batches"] >= 1, "the second node died with batches in flight"
