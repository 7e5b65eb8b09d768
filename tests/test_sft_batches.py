"""SFT grain batches: deterministic length-aware plans, exact resume, per-process rows, eval coverage."""

from __future__ import annotations

import numpy as np
import pytest

from acecoder_jax.data.sft_batches import sft_eval_batches, sft_train_batches
from acecoder_jax.data.sft_encoded import EncodedSequences

PAD = 7


@pytest.fixture(scope="module")
def data() -> EncodedSequences:
    rng = np.random.default_rng(0)
    ids, masks = [], []
    for _ in range(40):
        length = int(rng.integers(5, 120))
        ids.append(rng.integers(10, 100, length).astype(np.int32))
        masks.append((np.arange(length) >= length // 2).astype(np.uint8))
    return EncodedSequences.from_rows(ids, masks, [f"rows.jsonl:{i + 1}" for i in range(40)])


def _stream(data, **kw):
    args = dict(
        batch_size=8, total_steps=12, seed=3, max_length=128, pad_id=PAD, pad_multiple=32, window_batches=2
    )
    return sft_train_batches(data, **{**args, **kw})


def test_batches_are_padded_masked_and_deterministic(data):
    batches = list(_stream(data))
    assert len(batches) == 12
    for step, batch in enumerate(batches):
        ids, attention, loss = batch["input_ids"], batch["attention_mask"], batch["loss_mask"]
        assert ids.shape[0] == 8 and ids.shape[1] % 32 == 0 and ids.shape == attention.shape == loss.shape
        assert int(batch["step"]) == step
        assert np.all(loss <= attention) and np.all(ids[attention == 0] == PAD)
        assert int(batch["global_tokens"]) == attention.sum()
        assert int(batch["global_loss_tokens"]) == loss.sum()
        # Each row is one encoded sequence, with its own mask.
        for row in range(8):
            n = int(attention[row].sum())
            matches = [
                i for i in range(len(data)) if len(data.ids(i)) == n and np.all(data.ids(i) == ids[row, :n])
            ]
            assert matches and np.all(data.mask(matches[0]) == loss[row, :n])
    again = list(_stream(data))
    for a, b in zip(batches, again):
        np.testing.assert_array_equal(a["input_ids"], b["input_ids"])
    other = list(_stream(data, seed=4))
    assert any(not np.array_equal(a["input_ids"], b["input_ids"]) for a, b in zip(batches, other))


def test_length_aware_batches_pad_less_than_random_ones(data):
    batches = list(_stream(data, total_steps=5, window_batches=5))
    padding = sum((b["attention_mask"] == 0).sum() for b in batches)
    random_padding = 0
    rng = np.random.default_rng(0)
    lengths = data.lengths()
    for _ in range(5):
        members = rng.choice(len(data), 8, replace=False)
        width = -(-lengths[members].max() // 32) * 32
        random_padding += (width - lengths[members]).sum()
    assert padding < random_padding


def test_resume_from_iterator_state_continues_exactly(data):
    iterator = iter(_stream(data))
    for _ in range(5):
        next(iterator)
    state = iterator.get_state()
    rest = [b["input_ids"] for b in iterator]
    resumed = iter(_stream(data))
    resumed.set_state(state)
    for a, b in zip(rest, (b["input_ids"] for b in resumed), strict=True):
        np.testing.assert_array_equal(a, b)


def test_processes_load_disjoint_slices_of_the_global_batch(data):
    whole = list(_stream(data))
    parts = [list(_stream(data, process_index=i, process_count=2)) for i in range(2)]
    for step, batch in enumerate(whole):
        for key in ("input_ids", "loss_mask", "attention_mask"):
            joined = np.concatenate([parts[0][step][key], parts[1][step][key]])
            np.testing.assert_array_equal(joined, batch[key])
        assert int(parts[1][step]["global_tokens"]) == int(batch["global_tokens"])


def test_eval_batches_cover_every_row_once_and_fillers_train_nothing(data):
    batches = list(sft_eval_batches(data, batch_size=16, max_length=128, pad_id=PAD, pad_multiple=32))
    assert len(batches) == 3
    weights = np.concatenate([b["weight"] for b in batches])
    assert weights.sum() == len(data) and weights.tolist()[-8:] == [0.0] * 8
    last = batches[-1]
    assert last["loss_mask"][8:].sum() == 0 and last["attention_mask"][8:].sum() > 0
    assert sum(int(b["loss_mask"].sum()) for b in batches) == int(data.loss_tokens().sum())


def test_select_and_cache_round_trip(data, tmp_path):
    picked = data.select(np.array([3, 0]))
    np.testing.assert_array_equal(picked.ids(0), data.ids(3))
    np.testing.assert_array_equal(picked.mask(1), data.mask(0))
    picked.save(tmp_path / "c.npz")
    loaded = EncodedSequences.load(tmp_path / "c.npz")
    np.testing.assert_array_equal(loaded.tokens, picked.tokens)
    assert loaded.where == ["rows.jsonl:4", "rows.jsonl:1"]
