"""Where a trainer's batches come from: a resumable source of this process's host rows.

The loop asks `next_batch(state)` once per step (the state lets an RL source sample rollouts with the current
policy), logs the host-side metrics it returns with that step, and saves `get_state()` in every checkpoint so
a resumed run continues from the same position (`set_state`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import numpy as np

from acecoder_jax.train.state import TrainState

HostBatch = dict[str, np.ndarray]


class BatchSource(Protocol):
    """A resumable stream of host batches (this process's rows of each global batch)."""

    def next_batch(self, state: TrainState) -> tuple[HostBatch, dict[str, float]]:
        """This process's rows of the next global batch, and host-side metrics to log with this step."""
        ...

    def get_state(self) -> dict[str, Any]:
        """A JSON-serialisable position, saved in every checkpoint."""
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from a position `get_state` returned."""
        ...


class GrainSource:
    """A grain dataset (each element one host batch) as a BatchSource; its iterator state is the position.

    `host_metrics(batch)` names host-side values to log with the step (e.g. the padded sequence length).
    """

    def __init__(
        self,
        dataset: Iterable[Mapping[str, np.ndarray]],
        host_metrics: Callable[[Mapping[str, np.ndarray]], dict[str, float]] | None = None,
    ) -> None:
        self._iterator = iter(dataset)
        self._host_metrics = host_metrics

    def next_batch(self, state: TrainState) -> tuple[HostBatch, dict[str, float]]:
        """The iterator's next element (the train state is not needed)."""
        batch = dict(next(self._iterator))
        return batch, self._host_metrics(batch) if self._host_metrics else {}

    def get_state(self) -> dict[str, Any]:
        """The grain iterator's state."""
        return self._iterator.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore the grain iterator's state."""
        self._iterator.set_state(state)
