"""Run by tests/test_executor_ray.py inside the head node's network namespace, against a two-node Ray cluster
(head and second node in two namespaces joined by a veth pair): `acecoder exec --ray` on HumanEval + hostile
programs, `score --ray`, then a run during which the second node's raylet is killed (SIGKILL).

Usage: ray_cluster_driver.py SCRATCH ADDRESS SECOND_RAYLET_PID. Prints one JSON object, what the test checks.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import ray

from data_gen.stages.score import run_score
from executor import Executor, Job
from executor.cli import main as exec_main
from executor.config import ExecutorConfig
from executor.humaneval_demo import BROKEN_BODIES, broken_job, canonical_job, load_problems
from executor.ray_pool import RayExecutor


def workload(problems: int) -> list[Job]:
    """Canonical HumanEval solutions and every broken/hostile body of each."""
    jobs = []
    for problem in load_problems()[:problems]:
        jobs.append(canonical_job(problem))
        jobs.extend(broken_job(problem, variant) for variant in BROKEN_BODIES)
    return jobs


def verdicts(rows: list[dict]) -> list[tuple]:
    """What must match between two runs: id, status, pass rate, each test's outcome."""
    return [(r["id"], r["status"], r["pass_rate"], [t["outcome"] for t in r["tests"]]) for r in rows]


def score_matches_local(folder: Path, address: str) -> bool:
    """`score --ray` writes the same rows as the local `score`."""
    rows = []
    for q in range(6):
        tests = [f"assert inc({i}) == {i + q}" for i in range(4)]
        bodies = ["return x + 1", f"return x + {q}", "while True: pass", "import os; os._exit(0)"]
        samples = [{"completion_id": k, "completion": f"def inc(x):\n    {b}"} for k, b in enumerate(bodies)]
        rows.append(
            {
                "id": f"q{q}",
                "source": "oss",
                "question": "Inc.",
                "tests": tests,
                "model_name": "m",
                "samples": samples,
            }
        )
    source = folder / "samples.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    run_score(source, folder / "local.jsonl", ExecutorConfig(workers=2, timeout_s=1.0), progress=False)
    run_score(source, folder / "ray.jsonl", ExecutorConfig(timeout_s=1.0, ray=address), progress=False)
    return (folder / "local.jsonl").read_text() == (folder / "ray.jsonl").read_text()


def main(scratch: str, address: str, second_raylet: int) -> None:
    """Both checks; see the module docstring."""
    jobs = workload(8)
    folder = Path(scratch)
    source = folder / "jobs.jsonl"
    source.write_text(
        "".join(json.dumps({"id": j.id, "program": j.program, "tests": j.tests}) + "\n" for j in jobs)
    )
    with Executor(workers=2, timeout_s=2.0) as local:
        expected = verdicts([r.to_dict() for r in local.run(jobs)])

    output = folder / "results.jsonl"
    code = exec_main(["--ray", address, "--input", str(source), "--output", str(output), "--timeout", "2"])
    via_cli = verdicts([json.loads(line) for line in output.read_text().splitlines()])
    score_equal = score_matches_local(folder, address)

    slow = [
        Job(i, "import time\ndef f(x):\n    time.sleep(0.05)\n    return x\n", ["assert f(1) == 1"])
        for i in range(400)
    ]
    seen: list = []
    with RayExecutor(address, timeout_s=2.0, batch=8) as executor:
        nodes = len(executor.node_features)
        node_ips = sorted(node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"])
        killer = threading.Timer(3.0, lambda: os.kill(second_raylet, signal.SIGKILL))
        killer.start()
        started = time.monotonic()
        for result in executor.map(slow):
            seen.append((result.id, result.pass_rate))
        killer.join()
        reruns = executor.rerun_batches
    print(
        json.dumps(
            {
                "exit_code": code,
                "score_matches_local": score_equal,
                "nodes": nodes,
                "node_ips": node_ips,
                "matches_local": via_cli == expected,
                "jobs": len(jobs),
                "mismatches": [pair for pair in zip(via_cli, expected, strict=False) if pair[0] != pair[1]][
                    :3
                ],
                "kill_ids": [job_id for job_id, _ in seen],
                "kill_pass_rates": sorted({rate for _, rate in seen}),
                "kill_seconds": time.monotonic() - started,
                "rerun_batches": reruns,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
