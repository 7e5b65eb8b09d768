"""Grain pipelines that turn encoded pairs into padded per-process batches, with checkpointable position.

`train_batches` is a grain MapDataset over step numbers (each element one batch, built from the deterministic
`BatchPlan`), iterated with `to_iter_dataset`, so the iterator's state is just "next step" and resuming a run
restores it exactly. `eval_batches` walks the held-out pairs once, padding the last batch with zero-weight
rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import grain
import numpy as np

from acecoder_jax.data.batching import BatchPlan, padded_length, process_slice
from acecoder_jax.data.pairs import EncodedPairs

Batch = dict[str, np.ndarray]


def collate(
    pairs: EncodedPairs, indices: np.ndarray, length: int, pad_id: int, weights: np.ndarray | None = None
) -> Batch:
    """Right-padded chosen/rejected ids and masks [len(indices), length] plus per-pair weights."""
    n = len(indices)
    batch = {
        "chosen_ids": np.full((n, length), pad_id, np.int32),
        "chosen_mask": np.zeros((n, length), np.int32),
        "rejected_ids": np.full((n, length), pad_id, np.int32),
        "rejected_mask": np.zeros((n, length), np.int32),
        "weight": np.ones(n, np.float32) if weights is None else weights.astype(np.float32),
    }
    for row, index in enumerate(indices):
        for name, chosen in (("chosen", True), ("rejected", False)):
            ids = pairs.sequence(int(index), chosen)[:length]
            batch[f"{name}_ids"][row, : len(ids)] = ids
            batch[f"{name}_mask"][row, : len(ids)] = 1
    return batch


class _TrainBatch:
    """Step number -> this process's rows of that global batch (a picklable grain map function)."""

    def __init__(
        self, pairs: EncodedPairs, plan: BatchPlan, rows: slice, multiple: int, max_length: int, pad_id: int
    ):
        self.pairs, self.plan, self.rows = pairs, plan, rows
        self.multiple, self.max_length, self.pad_id = multiple, max_length, pad_id
        self.lengths = pairs.lengths()

    def __call__(self, step: int) -> Batch:
        members = self.plan.batch(int(step))
        length = padded_length(int(self.lengths[members].max()), self.multiple, self.max_length)
        batch = collate(self.pairs, members[self.rows], length, self.pad_id)
        batch["step"] = np.asarray(step, np.int64)
        # Real (unpadded) tokens in the whole global batch, for tokens/s; every process computes the same.
        seq = np.diff(self.pairs.offsets[0])[members]
        batch["global_tokens"] = np.asarray(
            2 * seq.sum()
            + np.diff(self.pairs.offsets[1])[members].sum()
            + np.diff(self.pairs.offsets[2])[members].sum(),
            np.int64,
        )
        return batch


def train_batches(
    pairs: EncodedPairs,
    *,
    batch_size: int,
    total_steps: int,
    seed: int,
    max_length: int,
    pad_id: int,
    pad_multiple: int = 64,
    window_batches: int = 64,
    process_index: int = 0,
    process_count: int = 1,
    prefetch: int = 2,
) -> grain.IterDataset:
    """The training stream: `total_steps` batches; iterate it and use `get_state`/`set_state` to resume."""
    plan = BatchPlan(pairs.lengths(), batch_size, seed, window_batches)
    rows = process_slice(batch_size, process_index, process_count)
    fn = _TrainBatch(pairs, plan, rows, pad_multiple, max_length, pad_id)
    dataset = grain.MapDataset.range(total_steps).map(fn)
    # Threads, not processes: grain must not fork once jax is imported.
    return dataset.to_iter_dataset(grain.ReadOptions(num_threads=prefetch, prefetch_buffer_size=2 * prefetch))


def steps_per_epoch(num_pairs: int, batch_size: int) -> int:
    """Full global batches in one pass over the pairs."""
    return num_pairs // batch_size


def eval_batches(
    pairs: EncodedPairs,
    *,
    batch_size: int,
    max_length: int,
    pad_id: int,
    pad_multiple: int = 64,
    process_index: int = 0,
    process_count: int = 1,
) -> Iterator[Batch]:
    """Every held-out pair once, sorted by length; the last batch is filled with weight-0 copies of pair 0."""
    lengths = pairs.lengths()
    order = np.argsort(lengths, kind="stable")
    rows = process_slice(batch_size, process_index, process_count)
    for start in range(0, len(order), batch_size):
        members = order[start : start + batch_size]
        weights = np.ones(batch_size, np.float32)
        if len(members) < batch_size:
            weights[len(members) :] = 0.0
            members = np.concatenate([members, np.full(batch_size - len(members), order[0])])
        length = padded_length(int(lengths[members].max()), pad_multiple, max_length)
        yield collate(pairs, members[rows], length, pad_id, weights[rows])
