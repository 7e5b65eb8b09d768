"""Scale-out overhead: one HumanEval workload through the local pool, Ray (one node; two local nodes) and the
HTTP reward service (concurrent clients), in one run; programs/s and each path's ratio to the local pool.

Every path gets the same 2 CPUs (the local pool 2 workers; Ray one 2-CPU node or two 1-CPU nodes; the
service a 2-worker pool), so a ratio is the path's overhead. Ray and the service run inside a network
namespace this script creates (only loopback there); needs root, iproute2 and the `ray` extra.
Run: `.venv/bin/python bench/executor_ray.py [--repeats 2] [--clients 4]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from executor import Executor, Job
from executor.humaneval_demo import canonical_job, load_problems

CPUS = 2
ROUNDS = 3  # timed runs per path; the box is shared, so medians are reported


def workload(repeats: int) -> list[Job]:
    """HumanEval canonical solutions, `repeats` times (164 programs each)."""
    problems = load_problems()
    return [
        Job(f"{job.id}#{r}", job.program, job.tests)
        for r in range(repeats)
        for job in map(canonical_job, problems)
    ]


def timed(run: object, jobs: list[Job], rounds: int = ROUNDS) -> list[float]:
    """Programs/s of `run(jobs)`, `rounds` times, checking every canonical solution passed."""
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        results = run(jobs)  # type: ignore[operator]
        seconds = time.perf_counter() - started
        assert [r.pass_rate for r in results] == [1.0] * len(jobs), "a canonical solution failed"
        rates.append(len(jobs) / seconds)
    return rates


def bench_local(jobs: list[Job]) -> list[float]:
    with Executor(workers=CPUS, timeout_s=10.0) as executor:
        executor.run(jobs[:8])  # warm
        return timed(executor.run, jobs)


def bench_ray(jobs: list[Job], nodes: int) -> list[float]:
    from ray.cluster_utils import Cluster

    from executor.ray_pool import RayExecutor

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": CPUS // nodes, "include_dashboard": False}
    )
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=CPUS // nodes)
    cluster.wait_for_nodes()
    try:
        with RayExecutor(cluster.address, timeout_s=10.0) as executor:
            executor.run(jobs[:8])
            return timed(executor.run, jobs)
    finally:
        cluster.shutdown()


def bench_http(jobs: list[Job], clients: int) -> list[float]:
    from executor.client import ExecClient
    from executor.job import Result
    from executor.ray_pool import result_from_row
    from executor.serve import ExecServer, ExecService, ServeLimits

    with Executor(workers=CPUS, timeout_s=10.0) as executor:
        service = ExecService(executor, ServeLimits(max_requests=clients), token="bench")
        server = ExecServer(("127.0.0.1", 0), service)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        client = ExecClient(server.url, "bench")
        client.exec(jobs[:8])

        def run(all_jobs: list[Job]) -> list[Result]:
            chunks = [all_jobs[i::clients] for i in range(clients)]  # RL-shaped: each client its own batch
            answers: list[list[dict]] = [[] for _ in chunks]
            workers = [
                threading.Thread(target=lambda i=i: answers[i].extend(client.exec(chunks[i])))
                for i in range(clients)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            return [result_from_row(row) for answer in answers for row in answer]

        try:
            return timed(run, jobs)
        finally:
            server.stop()


def inside(args: argparse.Namespace) -> None:
    """The measurements (run inside the namespace); prints one JSON line."""
    jobs = workload(args.repeats)
    local = bench_local(jobs)
    rates = {"ray 1 node": bench_ray(jobs, 1), "ray 2 nodes": bench_ray(jobs, 2)}
    rates[f"http {args.clients} clients"] = bench_http(jobs, args.clients)
    local += bench_local(jobs)  # before and after the others: drift from the box's other load shows here
    print(json.dumps({"programs": len(jobs), "rates": {"local": local, **rates}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2, help="HumanEval passes (164 programs each)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside(args)
    name = f"acecoder-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
        command = [
            sys.executable,
            __file__,
            "--inside",
            "--repeats",
            str(args.repeats),
            "--clients",
            str(args.clients),
        ]
        out = subprocess.run(["ip", "netns", "exec", name, *command], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            sys.exit(f"bench failed:\n{out.stderr[-3000:]}")
        report = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
    local = statistics.median(report["rates"]["local"])
    print(f"{report['programs']} HumanEval programs, {CPUS} CPUs per path, median of {ROUNDS}+ runs")
    print(f"{'path':<18} {'programs/s':>10} {'vs local':>9}  runs")
    for path, rates in report["rates"].items():
        rate = statistics.median(rates)
        print(f"{path:<18} {rate:>10.1f} {rate / local:>8.2f}x  {' '.join(f'{r:.0f}' for r in rates)}")


if __name__ == "__main__":
    main()
