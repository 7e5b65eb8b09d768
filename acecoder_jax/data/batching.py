"""Length-aware, deterministic batch plans: which pairs form global batch s, and how long it is padded.

Every process computes the same plan from (seed, pair lengths), so all processes agree on each batch's padded
length (one jitted shape per step across the job) and each takes its own contiguous slice of the batch's rows.
Per epoch: shuffle all pairs, cut the shuffled order into windows of `window_batches` global batches, sort
each
window by length and cut it into batches (similar lengths pad little), then shuffle the batches within the
window.
The remainder that does not fill a global batch is dropped each epoch (fixed shapes).
"""

from __future__ import annotations

import functools

import numpy as np


class BatchPlan:
    """Global batch s -> pair indices, for any step of any epoch."""

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int, window_batches: int = 64) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch size must be positive, got {batch_size}")
        if len(lengths) < batch_size:
            raise ValueError(f"{len(lengths)} pairs cannot fill one global batch of {batch_size}")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.window_batches = max(1, window_batches)
        self.steps_per_epoch = len(self.lengths) // batch_size

    def batch(self, step: int) -> np.ndarray:
        """Pair indices of global batch `step` (steps continue across epochs)."""
        epoch, index = divmod(step, self.steps_per_epoch)
        window, offset = divmod(index, self.window_batches)
        return self._window(epoch, window)[offset]

    @functools.lru_cache(maxsize=4)  # noqa: B019 -- a plan lives as long as its pipeline
    def _window(self, epoch: int, window: int) -> np.ndarray:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.lengths))
        order = order[: self.steps_per_epoch * self.batch_size]
        span = self.window_batches * self.batch_size
        members = order[window * span : (window + 1) * span]
        members = members[np.argsort(self.lengths[members], kind="stable")]
        batches = members.reshape(-1, self.batch_size)
        return batches[np.random.default_rng([self.seed, epoch, window, 1]).permutation(len(batches))]


def padded_length(longest: int, multiple: int, max_length: int) -> int:
    """Round `longest` up to a multiple of `multiple` (fewer distinct shapes), never past `max_length`."""
    return min(-(-longest // multiple) * multiple, max(max_length, longest))


def process_slice(batch_size: int, process_index: int, process_count: int) -> slice:
    """The rows of a global batch that process `process_index` loads."""
    if batch_size % process_count:
        raise ValueError(f"global batch {batch_size} does not split over {process_count} processes")
    local = batch_size // process_count
    return slice(process_index * local, (process_index + 1) * local)
