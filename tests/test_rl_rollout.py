"""Rollout collection: prompt-major layout, chunked reward submission, truncation rules, and old
log-probabilities that equal the training-time recomputation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from acecoder_jax.models import ModelConfig, init_model
from acecoder_jax.rl.logprobs import token_logprobs
from acecoder_jax.rl.prompting import Prompt
from acecoder_jax.rl.rewards import Rewarded
from acecoder_jax.rl.rollout import Question, collect_rollouts
from acecoder_jax.sample import generate


@dataclass
class _Now:
    value: Rewarded

    def result(self) -> Rewarded:
        return self.value


class LengthReward:
    """A reward of the Reward interface that records each submitted chunk (reward = response length)."""

    def __init__(self) -> None:
        self.chunks: list[int] = []

    def submit(self, samples):
        self.chunks.append(len(samples))
        rewards = np.array([float(len(s.completion.split())) for s in samples], np.float32)
        return _Now(Rewarded(rewards, rewards / 100, {"seen": float(len(samples))}))


@pytest.fixture(scope="module")
def model():
    return init_model(ModelConfig.preset("tiny", vocab_size=512), kind="causal_lm", seed=3)


def _questions() -> list[Question]:
    prompts = [(5, 6, 7), (8, 9), (10, 11, 12, 13), (14,)]
    return [Question(f"q{i}", "", (), Prompt(p, "")) for i, p in enumerate(prompts)]


def _sampler(model, max_new_tokens: int):
    """collect_rollouts' `generate`: the JAX sampler at temperature 1.0 with log-probabilities."""

    def sample(prompts, n, seed, prompt_seeds):
        return generate(
            model,
            prompts,
            max_new_tokens=max_new_tokens,
            temperature=1.0,
            n=n,
            seed=seed,
            prompt_seeds=prompt_seeds,
            return_logprobs=True,
        )

    return sample


def test_layout_chunks_and_old_logprobs(model):
    reward = LengthReward()

    sample = _sampler(model, max_new_tokens=6)

    out = collect_rollouts(
        _questions(),
        generate=sample,
        decode=lambda ids: " ".join(map(str, ids)),
        reward=reward,
        group_size=3,
        seed=0,
        chunk_questions=2,
        max_new_tokens=6,
    )
    assert reward.chunks == [6, 6] and out.rows == 12 and out.counts["seen"] == 12
    width = 4  # the longest prompt
    for row in range(12):
        question = out.questions[row // 3]
        prompt = question.prompt.token_ids
        assert tuple(out.input_ids[row, width - len(prompt) : width]) == prompt
        assert out.attention_mask[row, : width - len(prompt)].sum() == 0
        length = out.response_lengths[row]
        assert out.response_mask[row].sum() == length == len(out.completions[row].split())
        assert out.rewards[row] == length
    # The sampler's log-probabilities are the ones the training step recomputes for the same tokens.
    logp, _ = token_logprobs(model, out.input_ids, out.attention_mask, chunk=4)
    mask = out.response_mask.astype(bool)
    np.testing.assert_allclose(np.asarray(logp)[mask], out.old_logprobs[mask], atol=1e-4)


def test_truncation_rules(model):
    sample = _sampler(model, max_new_tokens=4)

    common = dict(generate=sample, decode=lambda ids: " ".join(map(str, ids)), group_size=2, seed=1)
    kept = collect_rollouts(_questions(), reward=LengthReward(), **common)
    assert kept.truncated.all() and kept.counts["truncated"] == 8  # no EOS: every row ran to max_new_tokens
    masked = collect_rollouts(_questions(), reward=LengthReward(), truncation="mask", **common)
    assert masked.response_mask.sum() == 0 and np.all(masked.rewards == 4)
    zeroed = collect_rollouts(_questions(), reward=LengthReward(), truncation="zero", **common)
    assert np.all(zeroed.rewards == 0) and zeroed.response_mask.sum() == 32
    penalised = collect_rollouts(
        _questions(),
        reward=LengthReward(),
        overlong_buffer=2,
        overlong_penalty=1.0,
        max_new_tokens=4,
        **common,
    )
    np.testing.assert_allclose(penalised.rewards, 4 - 1.0)  # 4 tokens: 2 into the 2-token buffer
    with pytest.raises(ValueError, match="truncation"):
        collect_rollouts(_questions(), reward=LengthReward(), truncation="drop", **common)
