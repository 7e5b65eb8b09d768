"""AceCodePair loading, formatting, bad rows, length-aware batching and the grain iterator's resumable
state."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rm_pair_data import make_pairs, write_pairs

from acecoder_jax.common.tokenizer import load_qwen25_tokenizer
from acecoder_jax.data.batching import BatchPlan, padded_length, process_slice
from acecoder_jax.data.pair_batches import eval_batches, train_batches
from acecoder_jax.data.pair_format import chat_messages, llamafactory_lengths
from acecoder_jax.data.pairs import PairDataError, load_pairs


@pytest.fixture(scope="module")
def tokenizer():
    return load_qwen25_tokenizer()


def _write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_pairs_are_formatted_exactly_as_the_qwen_chat_template(tmp_path, tokenizer):
    rows = make_pairs(6)
    pairs, report = load_pairs(_write_rows(tmp_path / "p.jsonl", rows), tokenizer, 512)
    assert report.total == 0 and len(pairs) == 6
    for i, row in enumerate(rows):  # rows with and without `input`
        for field, chosen in (("chosen", True), ("rejected", False)):
            expected = tokenizer.apply_chat_template(chat_messages(row, field), tokenize=False)
            assert tokenizer.decode(pairs.sequence(i, chosen)) == expected
            assert (
                list(pairs.sequence(i, chosen)) == tokenizer(expected, add_special_tokens=False)["input_ids"]
            )
    assert "Write a function f1" in tokenizer.decode(pairs.part(0, 1))
    assert "\nassert f1(" in tokenizer.decode(pairs.part(0, 1))  # user turn = instruction + "\n" + input


def test_parquet_rows_load_like_jsonl(tmp_path, tokenizer):
    rows = make_pairs(5)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "p.parquet")
    from_parquet, _ = load_pairs(tmp_path / "p.parquet", tokenizer, 512)
    from_jsonl, _ = load_pairs(_write_rows(tmp_path / "p.jsonl", rows), tokenizer, 512)
    for k in range(3):
        np.testing.assert_array_equal(from_parquet.tokens[k], from_jsonl.tokens[k])
    assert from_parquet.where[2] == f"{tmp_path / 'p.parquet'}:row 3"


@pytest.mark.parametrize(
    ("change", "reason", "needle"),
    [
        (lambda r: r.pop("chosen"), "missing_field", "missing field 'chosen'"),
        (lambda r: r.update(rejected="  "), "empty_field", "field 'rejected' is empty"),
        (lambda r: r.update(chosen=7), "bad_type", "field 'chosen' must be a string"),
        (lambda r: r.update(chosen="x " * 400), "over_long", "over data.max_length=128"),
    ],
)
def test_bad_rows_fail_naming_file_and_row_or_are_skipped_and_counted(
    tmp_path, tokenizer, change, reason, needle
):
    rows = make_pairs(4)
    change(rows[2])
    path = _write_rows(tmp_path / "bad.jsonl", rows)
    with pytest.raises(PairDataError) as err:
        load_pairs(path, tokenizer, 128)
    assert f"{path}:3" in str(err.value) and needle in str(err.value)
    pairs, report = load_pairs(path, tokenizer, 128, on_bad_row="skip")
    assert len(pairs) == 3 and report.counts == {reason: 1}
    assert pairs.where == [f"{path}:1", f"{path}:2", f"{path}:4"]


def test_llamafactory_truncation_shares_the_budget_and_keeps_pairs(tmp_path, tokenizer):
    assert llamafactory_lengths(100, 10, 64) == (54, 10)  # short response: the prompt is cut
    assert llamafactory_lengths(10, 100, 64) == (10, 54)  # short prompt: the response is cut
    assert llamafactory_lengths(60, 40, 64) == (39, 25)  # both long: cut in proportion
    rows = make_pairs(2)
    rows[0]["chosen"] = "y " * 300
    pairs, report = load_pairs(
        _write_rows(tmp_path / "p.jsonl", rows), tokenizer, 128, truncation="llamafactory"
    )
    assert report.total == 0 and len(pairs) == 2
    assert pairs.lengths()[0] == 128 and len(pairs.sequence(0, True)) == 128


def test_batch_plan_is_deterministic_length_aware_and_covers_each_epoch_once():
    lengths = np.random.default_rng(0).integers(10, 500, size=103)
    plan = BatchPlan(lengths, batch_size=8, seed=3, window_batches=4)
    again = BatchPlan(lengths, batch_size=8, seed=3, window_batches=4)
    epoch = [plan.batch(s) for s in range(plan.steps_per_epoch)]
    assert all((a == again.batch(s)).all() for s, a in enumerate(epoch))
    seen = np.concatenate(epoch)
    assert len(seen) == len(set(seen.tolist())) == 12 * 8  # 103 // 8 batches, no pair twice
    # Sorting within windows makes batches far more uniform in length than random batches.
    spread = np.mean([np.ptp(lengths[b]) for b in epoch])
    random_spread = np.mean(
        [np.ptp(lengths[b]) for b in np.random.default_rng(1).permutation(96).reshape(12, 8)]
    )
    assert spread < 0.5 * random_spread
    assert not (plan.batch(12) == epoch[0]).all()  # the next epoch is shuffled anew
    assert not all((BatchPlan(lengths, 8, seed=4).batch(s) == epoch[s]).all() for s in range(3))
    assert padded_length(65, 64, 2048) == 128 and padded_length(2000, 64, 2000) == 2000


def test_processes_split_each_global_batch_without_overlap(tmp_path, tokenizer):
    pairs, _ = load_pairs(write_pairs(tmp_path / "p.jsonl", 40), tokenizer, 256)
    common = dict(batch_size=8, total_steps=5, seed=0, max_length=256, pad_id=0, pad_multiple=32)
    whole = list(train_batches(pairs, **common))
    parts = [list(train_batches(pairs, process_index=p, process_count=4, **common)) for p in range(4)]
    for step, batch in enumerate(whole):
        for key in ("chosen_ids", "rejected_mask"):
            np.testing.assert_array_equal(np.concatenate([parts[p][step][key] for p in range(4)]), batch[key])
    assert process_slice(8, 1, 4) == slice(2, 4)
    with pytest.raises(ValueError, match="does not split"):
        process_slice(8, 0, 3)


def test_iterator_state_resumes_at_the_same_batch(tmp_path, tokenizer):
    pairs, _ = load_pairs(write_pairs(tmp_path / "p.jsonl", 40), tokenizer, 256)
    dataset = train_batches(pairs, batch_size=8, total_steps=12, seed=5, max_length=256, pad_id=0)
    iterator = iter(dataset)
    for _ in range(7):  # into the second epoch (5 batches per epoch)
        next(iterator)
    state = iterator.get_state()
    expected = [next(iterator) for _ in range(3)]
    resumed = iter(dataset)
    resumed.set_state(json.loads(json.dumps(state)))  # the state survives a JSON round trip (checkpoints)
    for want in expected:
        got = next(resumed)
        assert all((got[k] == want[k]).all() for k in want)
    batch = expected[0]
    assert batch["chosen_ids"].shape == batch["rejected_ids"].shape == (8, 128)
    lengths = batch["chosen_mask"].sum(1)
    assert (batch["chosen_ids"][0, lengths[0] :] == 0).all()  # right padding with pad_id


def test_eval_batches_cover_every_pair_once_with_zero_weight_padding(tmp_path, tokenizer):
    pairs, _ = load_pairs(write_pairs(tmp_path / "p.jsonl", 13), tokenizer, 256)
    batches = list(eval_batches(pairs, batch_size=8, max_length=256, pad_id=0))
    assert [b["weight"].sum() for b in batches] == [8, 5]
    assert all(b["chosen_ids"].shape[0] == 8 for b in batches)


def test_tfds_array_record_dataset_reads_back_the_same_pairs(tmp_path, tokenizer):
    from acecoder_jax.data.tfds_pairs import build_array_record

    rows = make_pairs(7)
    rows[3]["chosen"] = ""  # stored as-is; reported (with its source row) when training reads it
    src = _write_rows(tmp_path / "p.jsonl", rows)
    build_array_record({"train": [str(src)]}, tmp_path / "ar")
    with pytest.raises(PairDataError, match=rf"{src}:4 .*field 'chosen' is empty"):
        load_pairs(tmp_path / "ar", tokenizer, 512)
    converted, report = load_pairs(tmp_path / "ar", tokenizer, 512, on_bad_row="skip")
    direct, _ = load_pairs(src, tokenizer, 512, on_bad_row="skip")
    assert report.total == 1
    by_source = {w.split(" (via")[0]: i for i, w in enumerate(converted.where)}
    assert sorted(by_source) == sorted(direct.where)
    for i, where in enumerate(direct.where):
        j = by_source[where]
        for chosen in (True, False):
            np.testing.assert_array_equal(converted.sequence(j, chosen), direct.sequence(i, chosen))


def test_tokenized_pairs_are_cached_with_their_bad_row_counts(tmp_path, tokenizer):
    rows = make_pairs(5)
    rows[1]["chosen"] = ""
    path = _write_rows(tmp_path / "p.jsonl", rows)
    first, report = load_pairs(path, tokenizer, 512, on_bad_row="skip", cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("pairs-*.npz"))) == 1
    again, report_again = load_pairs(path, tokenizer, 512, on_bad_row="skip", cache_dir=tmp_path / "cache")
    assert again.where == first.where and report_again.counts == report.counts == {"empty_field": 1}
    for k in range(3):
        np.testing.assert_array_equal(again.tokens[k], first.tokens[k])
    load_pairs(path, tokenizer, 256, on_bad_row="skip", cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("pairs-*.npz"))) == 2  # other settings, other cache entry
