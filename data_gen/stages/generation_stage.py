"""What synth-tests and sample share: turn a batch into chats, generate, turn the replies into outcomes.

A stage describes itself as a `GenerationStep` (its chats, its prefill, its outcomes); `run_generation_stage`
runs it through `run_stage` either here (the backend opened lazily in this process, one batch at a time) or,
when `GenerationConfig.ray` names a cluster, on warm replicas spread over that cluster with several batches in
flight (data_gen/ray_generation.py). Both paths hand the same chats of the same batches to the same backend
settings and write through the same `run_stage`, so they write the same files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from data_gen.backends.base import Chat, GenerationConfig, make_backend
from data_gen.row_shards import Shard
from data_gen.stages.lazy import Lazy
from data_gen.stages.streaming import (
    Item,
    Outcome,
    ProcessMany,
    StageStats,
    note,
    note_usage,
    run_stage,
)


@dataclasses.dataclass(frozen=True)
class GenerationStep:
    """A generation stage's own work around the model call."""

    chats: Callable[[list[Item]], list[Chat]]  # the batch's prompts (raises on a bad row, before any call)
    outcomes: Callable[[list[Item], list[list[str]]], list[list[Outcome]]]  # batch + replies -> outcomes
    prefill: str | None = None  # the assistant-turn start that every reply continues


def run_generation_stage(
    name: str,
    input_path: str | Path,
    output_path: str | Path,
    generation: GenerationConfig,
    step: GenerationStep,
    *,
    shard: Shard,
    progress: bool,
) -> StageStats:
    """Run the stage locally, or on a Ray cluster when `generation.ray` is set; returns its counts."""
    common = {
        "name": name,
        "input_path": input_path,
        "output_path": output_path,
        "shard": shard,
        "batch_size": generation.batch_size,
        "progress": progress,
    }
    with contextlib.ExitStack() as stack:
        if generation.ray:
            from data_gen.ray_generation import ReplicaPool

            pool = Lazy(lambda: ReplicaPool(generation, name), stack)
            stats = run_stage(process_many=_on_replicas(step, pool), **common)  # type: ignore[arg-type]
            return note(stats, pool.get().summary() if pool.built else "")
        backend = Lazy(lambda: make_backend(generation), stack)

        def process(batch: list[Item]) -> list[list[Outcome]]:
            chats = step.chats(batch)
            return step.outcomes(batch, backend.get().generate_with_config(chats, prefill=step.prefill))

        stats = run_stage(process=process, **common)  # type: ignore[arg-type]
        return note_usage(stats, backend)


def _on_replicas(step: GenerationStep, pool: Lazy[Any]) -> ProcessMany:
    """The step over a ReplicaPool, several batches in flight; the pool starts when the first batch exists."""

    def process_many(batches: Iterator[list[Item]]) -> Iterator[tuple[list[Item], list[list[Outcome]]]]:
        first = next(batches, None)
        if first is None:
            return  # everything was done already (a resumed run): no replica is started
        ahead = itertools.chain([(first, step.chats(first))], ((b, step.chats(b)) for b in batches))
        for batch, replies in pool.get().generate(ahead, prefill=step.prefill):
            yield batch, step.outcomes(batch, replies)

    return process_many
