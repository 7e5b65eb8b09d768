"""Grain batches of tokenized SFT rows: length-aware, deterministic, per-process, resumable.

The same scheme as the reward model's pair batches (`batching.BatchPlan`): a grain MapDataset over step
numbers, each element one global batch from the deterministic plan (shuffle, sort windows by length, pad each
batch to a multiple of `pad_multiple`), of which every process loads only its own rows. The iterator's state
is "next step", so `get_state`/`set_state` resume a run exactly.

A batch holds, right-padded: `input_ids` [B, L] int32, `attention_mask` [B, L] int32 (1 on real tokens),
`loss_mask` [B, L] int32 (1 on trained tokens: the loss is the sum over t of loss_mask[b, t] times
-log p(input_ids[b, t] | input_ids[b, :t])), `weight` [B] float32 (0 on eval filler rows), and for logging
`step` and the whole global batch's `global_tokens` / `global_loss_tokens`.
"""

from __future__ import annotations

from collections.abc import Iterator

import grain
import numpy as np

from acecoder_jax.data.batching import BatchPlan, padded_length, process_slice
from acecoder_jax.data.sft_encoded import EncodedSequences

Batch = dict[str, np.ndarray]


def collate_sft(
    data: EncodedSequences, indices: np.ndarray, length: int, pad_id: int, weights: np.ndarray | None = None
) -> Batch:
    """Right-padded ids, attention and loss masks [len(indices), length]; rows of weight 0 train nothing."""
    n = len(indices)
    weights = np.ones(n, np.float32) if weights is None else weights.astype(np.float32)
    batch = {
        "input_ids": np.full((n, length), pad_id, np.int32),
        "attention_mask": np.zeros((n, length), np.int32),
        "loss_mask": np.zeros((n, length), np.int32),
        "weight": weights,
    }
    for row, index in enumerate(indices):
        ids = data.ids(int(index))[:length]
        batch["input_ids"][row, : len(ids)] = ids
        batch["attention_mask"][row, : len(ids)] = 1
        if weights[row] > 0:
            batch["loss_mask"][row, : len(ids)] = data.mask(int(index))[:length]
    return batch


class _TrainBatch:
    """Step number -> this process's rows of that global batch (a picklable grain map function)."""

    def __init__(
        self,
        data: EncodedSequences,
        plan: BatchPlan,
        rows: slice,
        multiple: int,
        max_length: int,
        pad_id: int,
    ) -> None:
        self.data, self.plan, self.rows = data, plan, rows
        self.multiple, self.max_length, self.pad_id = multiple, max_length, pad_id
        self.lengths = data.lengths()
        self.loss_tokens = data.loss_tokens()

    def __call__(self, step: int) -> Batch:
        members = self.plan.batch(int(step))
        length = padded_length(int(self.lengths[members].max()), self.multiple, self.max_length)
        batch = collate_sft(self.data, members[self.rows], length, self.pad_id)
        batch["step"] = np.asarray(step, np.int64)
        # Whole-global-batch counts (every process computes the same), for tokens/s and logs.
        batch["global_tokens"] = np.asarray(self.lengths[members].sum(), np.int64)
        batch["global_loss_tokens"] = np.asarray(self.loss_tokens[members].sum(), np.int64)
        return batch


def sft_train_batches(
    data: EncodedSequences,
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
    plan = BatchPlan(data.lengths(), batch_size, seed, window_batches)
    rows = process_slice(batch_size, process_index, process_count)
    fn = _TrainBatch(data, plan, rows, pad_multiple, max_length, pad_id)
    dataset = grain.MapDataset.range(total_steps).map(fn)
    # Threads, not processes: grain must not fork once jax is imported.
    return dataset.to_iter_dataset(grain.ReadOptions(num_threads=prefetch, prefetch_buffer_size=2 * prefetch))


def sft_eval_batches(
    data: EncodedSequences,
    *,
    batch_size: int,
    max_length: int,
    pad_id: int,
    pad_multiple: int = 64,
    process_index: int = 0,
    process_count: int = 1,
) -> Iterator[Batch]:
    """Every row once, sorted by length; the last batch is filled with weight-0 (untrained) row-0 copies."""
    lengths = data.lengths()
    order = np.argsort(lengths, kind="stable")
    rows = process_slice(batch_size, process_index, process_count)
    for start in range(0, len(order), batch_size):
        members = order[start : start + batch_size]
        weights = np.ones(batch_size, np.float32)
        if len(members) < batch_size:
            weights[len(members) :] = 0.0
            members = np.concatenate([members, np.full(batch_size - len(members), order[0])])
        length = padded_length(int(lengths[members].max()), pad_multiple, max_length)
        yield collate_sft(data, members[rows], length, pad_id, weights[rows])
