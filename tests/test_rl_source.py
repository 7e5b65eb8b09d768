"""The RL batch source: fixed-shape updates from rollout batches, resume mid-batch, dynamic filtering,
the report of tests no rollout passes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from flax import nnx

from acecoder_jax.models import ModelConfig, init_model
from acecoder_jax.rl.prompting import Prompt
from acecoder_jax.rl.rewards import Rewarded
from acecoder_jax.rl.rollout import Question
from acecoder_jax.rl.rollout_batch import RolloutBatch, keep_informative
from acecoder_jax.rl.source import RolloutSource, SourceSettings
from acecoder_jax.sample import generate


@dataclass
class _Now:
    value: Rewarded

    def result(self) -> Rewarded:
        return self.value


class ParityReward:
    """Pass rate = fraction of even tokens among the first two words; question q0's tests never pass."""

    def submit(self, samples):
        rates, outcomes = [], []
        for s in samples:
            words = s.completion.split()[:2]
            passed = [int(w) % 2 == 0 for w in words] + [False] * (2 - len(words))
            if s.question_id == "q0":
                passed = [False, False]
            rates.append(sum(passed) / 2)
            outcomes.append(tuple("pass" if p else "fail" for p in passed))
        rates = np.array(rates, np.float32)
        return _Now(Rewarded(rates, rates, {}, outcomes))


@pytest.fixture(scope="module")
def policy():
    model = init_model(ModelConfig.preset("tiny", vocab_size=256), kind="causal_lm", seed=5)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    return graphdef, params, rest


def _source(policy, tmp_path, **overrides) -> RolloutSource:
    graphdef, _, rest = policy

    def sample(params, prompts, n, seed, prompt_seeds):
        model = nnx.merge(graphdef, params, rest)
        return generate(
            model,
            prompts,
            max_new_tokens=5,
            temperature=1.0,
            n=n,
            seed=seed,
            prompt_seeds=prompt_seeds,
            return_logprobs=True,
        )

    questions = [
        Question(f"q{i}", "", ("t0", "t1"), Prompt(tuple(range(3 + i, 6 + 2 * i)), "")) for i in range(6)
    ]
    settings = dict(
        prompts=4,
        group_size=2,
        train_batch=4,
        prompt_width=16,
        max_new_tokens=5,
        pad_id=0,
        seed=1,
        estimator="grpo",
    )
    settings.update(overrides)
    return RolloutSource(
        questions,
        SourceSettings(**settings),
        sample=sample,
        decode=lambda ids: " ".join(map(str, ids)),
        reward=ParityReward(),
        ref_logprobs=None,
        buffer_dir=tmp_path / "rollouts",
    )


def test_updates_have_one_shape_and_cover_the_rollout_batch(policy, tmp_path):
    source = _source(policy, tmp_path)
    state = {"params": policy[1]}
    first, metrics = source.next_batch(state)
    second, more = source.next_batch(state)
    assert source.settings.updates_per_rollout == 2
    assert {"reward_mean", "pass_rate", "all_pass_frac", "time_generate", "rollout_tokens_per_s"} <= set(
        metrics
    )
    assert more == metrics  # every update of a rollout batch carries its metrics (any may be the logged one)
    for rows in (first, second):
        assert rows["input_ids"].shape == (4, 16 + 5)
        assert set(rows) >= {
            "input_ids",
            "attention_mask",
            "response_mask",
            "old_logprobs",
            "advantages",
            "weight",
        }
        np.testing.assert_array_equal(rows["weight"], rows["response_mask"].sum(axis=1))
        assert np.all(rows["advantages"][rows["response_mask"] == 0] == 0)
    _, metrics = source.next_batch(state)  # a new rollout batch from the next questions
    assert "reward_mean" in metrics and source.rollout_index == 2
    assert source.episode == 1 and source.cursor == 2  # 8 of 6 questions taken: wrapped into episode 1


def test_resume_between_updates_serves_the_same_rows(policy, tmp_path):
    state = {"params": policy[1]}
    source = _source(policy, tmp_path)
    _, saved_metrics = source.next_batch(state)
    saved = source.get_state()
    expected, _ = source.next_batch(state)
    after, _ = source.next_batch(state)
    resumed = _source(policy, tmp_path)
    resumed.set_state(saved)
    got, metrics = resumed.next_batch(state)
    assert resumed.rollout_index == 1 and metrics["rollout"] == 1.0  # no new rollout: the saved rows
    assert metrics == saved_metrics
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    next_rollout, _ = resumed.next_batch(state)
    for key in after:
        np.testing.assert_array_equal(next_rollout[key], after[key])


def test_keep_informative_fills_with_uninformative_groups_last():
    rates = np.array(
        [1, 1, 0, 1, 0, 0, 0.5, 0.5, 1, 0], np.float32
    )  # groups: equal, mixed, equal, equal, mixed
    batch = RolloutBatch(
        arrays={"input_ids": np.arange(10)[:, None]},
        rewards=rates,
        pass_rates=rates,
        truncated=np.zeros(10, bool),
        response_lengths=np.ones(10, np.int32),
        question_ids=[f"q{i}" for i in range(5)],
        outcomes=[()] * 10,
        group_size=2,
    )
    kept, filtered = keep_informative(batch, 3)
    assert kept.question_ids == ["q1", "q4", "q0"] and filtered == 1
    np.testing.assert_array_equal(kept.arrays["input_ids"][:, 0], [2, 3, 8, 9, 0, 1])


def test_dynamic_filtering_backfills_within_its_cap(policy, tmp_path):
    source = _source(policy, tmp_path, dynamic_filter=True, max_extra_prompts=2)
    rows, metrics = source.next_batch({"params": policy[1]})
    assert metrics["extra_prompts"] <= 2
    assert source.episode * 6 + source.cursor == 4 + metrics["extra_prompts"]  # questions taken
    assert 0 <= metrics["filtered_groups"] <= 4
    assert source._buffer["input_ids"].shape[0] == 8 and rows["input_ids"].shape[0] == 4


def test_report_lists_tests_no_rollout_passed(policy, tmp_path):
    source = _source(policy, tmp_path, prompts=6)
    source.next_batch({"params": policy[1]})
    report = source.unsatisfied_tests()
    q0 = [row for row in report if row["id"] == "q0"]
    assert [row["test_index"] for row in q0] == [0, 1]
    assert all(row["rollouts"] == 2 and not row["others_passed"] for row in q0)
    assert source.write_unsatisfied(tmp_path / "unsatisfied.jsonl") == len(report)
