"""RayExecutor: the Executor spread over a Ray cluster, one warm pool per node sized to that node's CPUs.

The driver is the one writer: it cuts jobs into batches, keeps a few batches in flight per node, and yields
results in input order. A node that dies mid-batch loses nothing: its batch is sent to another node, and a
batch's results are taken once (the first complete answer), so no job gets two results (that loop is
executor/ray_map.py's `ordered_actor_map`, shared with data_gen's generation replicas). Each node's actor
reports its sandbox features when it starts. Needs the `ray` extra (`pip install acecoder-jax[ray]`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from executor.job import Job, Result, TestResult
from executor.pool import _as_job
from executor.ray_map import ActorGroup, ordered_actor_map

BATCH = 64  # jobs per remote call: large enough that a call's overhead is small next to its run time
PER_NODE = 2  # batches in flight per node, so a node never idles between calls


class NodePool:
    """The Ray actor on one node: a warm Executor using that node's CPUs."""

    def __init__(self, workers: int, timeout_s: float, memory_mb: int) -> None:
        import os

        from executor.pool import Executor

        self.node = os.uname().nodename
        self.executor = Executor(workers=workers, timeout_s=timeout_s, memory_mb=memory_mb)
        self.executor.start()

    def features(self) -> dict[str, Any]:
        """This node's sandbox features (the worker-level confinement steps active on it)."""
        return self.executor.features()

    def run(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Judge a batch of job rows; result rows in order."""
        jobs = [Job(row["id"], row["program"], row["tests"]) for row in rows]
        return [result.to_dict() for result in self.executor.run(jobs)]


def result_from_row(row: dict[str, Any]) -> Result:
    """A Result back from its JSON row."""
    tests = [TestResult(t["outcome"], t["error"], t["seconds"], t["mode"]) for t in row["tests"]]
    return Result(row["id"], row["status"], row["pass_rate"], tests, row.get("error"))


class RayExecutor(ActorGroup):
    """`with RayExecutor("auto") as ex: results = ex.run(jobs)`: Executor.map over every node of a cluster."""

    def __init__(
        self,
        address: str | None = "auto",
        timeout_s: float = 5.0,
        memory_mb: int = 1024,
        batch: int = BATCH,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.batch = batch
        self.init_kwargs = init_kwargs or {}
        self.actors: list[Any] = []
        self.node_features: dict[str, dict[str, Any]] = {}
        self._ray: Any = None
        self.rerun_batches = 0  # batches sent again because their node died
        self._owns_ray = False  # this executor connected, so it disconnects (a local cluster stops)

    def start(self) -> None:
        """Connect to the cluster and start one NodePool actor pinned to each alive node (idempotent)."""
        if self.actors:
            return
        try:
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        except ImportError as err:
            raise RuntimeError("RayExecutor needs Ray: pip install 'acecoder-jax[ray]'") from err
        self._connect(ray, self.address, **self.init_kwargs)
        remote = ray.remote(NodePool)
        nodes = [node for node in ray.nodes() if node["Alive"]]
        for node in nodes:
            cpus = max(int(node["Resources"].get("CPU", 1)), 1)
            strategy = NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
            actor = remote.options(num_cpus=cpus, scheduling_strategy=strategy, max_restarts=0).remote(
                cpus, self.timeout_s, self.memory_mb
            )
            self.actors.append(actor)
        reports = ray.get([actor.features.remote() for actor in self.actors])
        for node, features in zip(nodes, reports, strict=True):
            self.node_features[f"{node['NodeManagerAddress']}/{node['NodeID'][:8]}"] = features

    def run(self, jobs: Iterable[Job | dict[str, Any]]) -> list[Result]:
        """Judge every job; results in input order."""
        return list(self.map(jobs))

    def map(self, jobs: Iterable[Job | dict[str, Any]]) -> Iterator[Result]:
        """Judge jobs over the cluster, yielding results in input order; a dead node's batches are re-run."""
        if not self.actors:
            self.start()

        def resent(_rows: list[dict[str, Any]]) -> None:
            self.rerun_batches += 1

        batches = ordered_actor_map(
            self._ray,
            self.actors,
            lambda actor, rows: actor.run.remote(rows),
            _batches(jobs, self.batch),
            per_actor=PER_NODE,
            on_resend=resent,
        )
        for _rows, results in batches:
            yield from (result_from_row(row) for row in results)


def _batches(jobs: Iterable[Job | dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Job rows in batches of `size` (ids default to the input position, as Executor.map numbers them)."""
    source = iter(jobs)
    index = 0
    while rows := [_row(_as_job(job, index + i)) for i, job in zip(range(size), source)]:
        yield rows
        index += len(rows)


def _row(job: Job) -> dict[str, Any]:
    return {"id": job.id, "program": job.program, "tests": job.tests}
