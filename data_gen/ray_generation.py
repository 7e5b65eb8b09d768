"""Generation replicas on a Ray cluster: synth-tests and sample with `--ray ADDRESS`.

Each replica is a Ray actor holding one warm backend, built once from the stage's GenerationConfig when the
actor starts (a vLLM engine, a transformers model, an OpenAI client, a replay table). The driver stays the
one writer: `run_stage` cuts the batches exactly as the local run does, `ReplicaPool.generate` keeps
`PER_ACTOR` batches in flight per replica, yields replies in input order, sends a dead replica's batches to
another replica and takes each batch's replies once (executor/ray_map.py, the loop RayExecutor uses too).

Placement (`replica_plan`): vllm gets one replica per GPU group of `tensor_parallel` GPUs on one node (the
actor asks for `num_gpus=tensor_parallel`; Ray sets its CUDA_VISIBLE_DEVICES), transformers with
`device=cuda` one per GPU; every other backend (openai, replay, transformers on CPU) one replica per node,
each asking for one CPU, spread over the nodes. `replicas` overrides the count.

Needs the `ray` extra (`pip install acecoder-jax[ray]`) and the package on every node; only this module
imports Ray, and only the Ray path imports this module.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from data_gen.backends.base import Chat, GenerationConfig, GenerationError, make_backend
from executor.ray_map import PER_ACTOR, ActorGroup, ordered_actor_map

K = TypeVar("K")


@dataclasses.dataclass(frozen=True)
class ReplicaPlan:
    """How many replicas to start and the Ray actor options of each."""

    count: int
    options: dict[str, Any]


def _uses_gpus(generation: GenerationConfig) -> bool:
    return generation.backend == "vllm" or (
        generation.backend == "transformers" and generation.device.startswith("cuda")
    )


def replica_plan(generation: GenerationConfig, nodes: list[dict[str, Any]]) -> ReplicaPlan:
    """The replicas for this backend on a cluster whose alive nodes are `nodes` (as `ray.nodes()` lists them).

    Raises ValueError when the cluster cannot hold one replica, or the `replicas` asked for.
    """
    nodes = [node for node in nodes if node.get("Alive", True)]
    wanted = generation.replicas
    if wanted < 0:
        raise ValueError(f"--replicas must be >= 0 (0 = automatic), not {wanted}")
    if _uses_gpus(generation):
        group = max(generation.tensor_parallel, 1) if generation.backend == "vllm" else 1
        per_node = [int(node.get("Resources", {}).get("GPU", 0)) for node in nodes]
        fit = sum(gpus // group for gpus in per_node)
        what = (
            f"backend {generation.backend} with tensor_parallel={group}" if group > 1 else generation.backend
        )
        if fit == 0:
            raise ValueError(
                f"{what}: each replica needs {group} GPU(s) on one node, and no node of the Ray cluster "
                f"has that many (GPUs per node: {per_node or 'no alive nodes'})"
            )
        if wanted > fit:
            raise ValueError(f"{what}: --replicas {wanted} asked for, but the cluster's GPUs hold only {fit}")
        return ReplicaPlan(wanted or fit, {"num_gpus": group})
    cpus = sum(int(node.get("Resources", {}).get("CPU", 0)) for node in nodes)
    count = wanted or len(nodes)
    if count == 0 or count > cpus:
        raise ValueError(
            f"backend {generation.backend}: {count} replica(s) of one CPU each do not fit the Ray cluster "
            f"({len(nodes)} alive node(s), {cpus} CPU(s))"
        )
    return ReplicaPlan(count, {"num_cpus": 1, "scheduling_strategy": "SPREAD"})


def portable(generation: GenerationConfig) -> GenerationConfig:
    """The config a replica builds its backend from: local paths made absolute (a replica's working directory
    is not the driver's), and no `ray` (a replica generates in its own process)."""

    def absolute(path: str | None) -> str | None:
        return str(Path(path).resolve()) if path and Path(path).exists() else path

    return dataclasses.replace(
        generation,
        ray=None,
        replicas=0,
        replay_file=absolute(generation.replay_file),
        model=absolute(generation.model) or "",
    )


class GenerationReplica:
    """The Ray actor: one warm backend, generating a batch of chats per call."""

    def __init__(self, generation: GenerationConfig, env: dict[str, str]) -> None:
        os.environ.update(env)  # the API key, which a replica on another node does not have
        self.generation = generation
        self.backend: Any = None

    def warm(self) -> str:
        """Build the backend (load the model); the id of the Ray node this replica runs on."""
        import ray

        self.backend = make_backend(self.generation)
        return ray.get_runtime_context().get_node_id()

    def generate(self, chats: list[Chat], prefill: str | None) -> list[list[str]]:
        """The stage's sampling settings over `chats`: `n` replies per chat."""
        return self.backend.generate_with_config(chats, prefill=prefill)

    def usage(self) -> str:
        """The backend's usage line."""
        return self.backend.usage_summary() if self.backend is not None else ""


class ReplicaPool(ActorGroup):
    """A stage's replicas: `with ReplicaPool(generation, "sample") as pool: pool.generate(pairs)`."""

    def __init__(self, generation: GenerationConfig, stage: str) -> None:
        if not generation.ray:
            raise ValueError("ReplicaPool needs a Ray cluster address (GenerationConfig.ray)")
        self.generation = generation
        self.stage = stage
        self.actors: list[Any] = []
        self.nodes: list[str] = []
        self.resent_batches = 0  # batches sent again because their replica died
        self._ray: Any = None
        self._owns_ray = False  # this pool connected, so it disconnects

    def start(self) -> None:
        """Connect, start the planned replicas and wait until each has built its backend."""
        try:
            import ray
        except ImportError as err:
            raise GenerationError("--ray needs Ray: pip install 'acecoder-jax[ray]'") from err
        self._connect(ray, self.generation.ray)
        plan = replica_plan(self.generation, ray.nodes())
        env = {k: os.environ[k] for k in [self.generation.api_key_env] if k in os.environ}
        remote = ray.remote(GenerationReplica)
        config = portable(self.generation)
        for index in range(plan.count):
            name = f"acecoder-{self.stage}-{os.getpid()}-{index}"  # findable with ray.util.list_named_actors
            options = {**plan.options, "name": name, "max_restarts": 0}
            self.actors.append(remote.options(**options).remote(config, env))
        self.nodes = self._get([actor.warm.remote() for actor in self.actors])

    def generate(
        self, batches: Iterable[tuple[K, list[Chat]]], *, prefill: str | None = None
    ) -> Iterator[tuple[K, list[list[str]]]]:
        """For each `(key, chats)`, `(key, replies)` in input order, batches spread over the replicas."""

        def resent(_item: tuple[K, list[Chat]]) -> None:
            self.resent_batches += 1

        results = ordered_actor_map(
            self._ray,
            self.actors,
            lambda actor, item: actor.generate.remote(item[1], prefill),
            batches,
            per_actor=PER_ACTOR,
            on_resend=resent,
        )
        try:
            for (key, _chats), replies in results:
                yield key, replies
        except self._ray.exceptions.RayTaskError as err:
            raise _cause(err) from None

    def summary(self) -> str:
        """Replicas, re-sent batches, and each live replica's usage line."""
        live = []
        for actor in self.actors:
            try:
                live.append(self._ray.get(actor.usage.remote()))
            except (self._ray.exceptions.RayActorError, self._ray.exceptions.ActorUnavailableError):
                continue  # a replica that died mid-run (its batches were re-sent)
        head = f"{len(self.actors)} replica(s) on {len(set(self.nodes))} node(s)"
        if self.resent_batches:
            head += f", {self.resent_batches} batch(es) re-sent after a replica died"
        return "; ".join([head, *[u for u in live if u]])

    def _get(self, refs: list[Any]) -> Any:
        try:
            return self._ray.get(refs)
        except self._ray.exceptions.RayTaskError as err:
            raise _cause(err) from None


def _cause(err: Any) -> BaseException:
    """The backend's own exception (GenerationError: one clear line) out of Ray's wrapper of it."""
    cause = getattr(err, "cause", None)
    return cause if isinstance(cause, BaseException) else err
