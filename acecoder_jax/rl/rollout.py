"""Rollouts: sample a group of completions per question with the JAX sampler, judge them as they come.

Prompts are decoded a chunk of questions at a time; each chunk's completions go to the reward at once, so
the executor judges chunk k while the sampler decodes chunk k + 1. The batch handed to training is one
array layout, prompt-major (row i * group_size + j is sample j of question i): the prompt left-padded to a
common width, then the response right-padded, with the sampler's log-probabilities of the response tokens
as the old log-probabilities.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from acecoder_jax.rl.prompting import Prompt
from acecoder_jax.rl.rewards import Pending, Reward, Rewarded, Sample

TRUNCATION = ("keep", "mask", "zero")


@dataclass(frozen=True)
class Question:
    """One RL prompt source row: the question, its tests (for the rule reward) and its prompt."""

    id: str
    question: str
    tests: tuple[Any, ...]
    prompt: Prompt


@dataclass
class Rollouts:
    """A rollout batch in training layout (see the module docstring); arrays are [R, T] or [R]."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    response_mask: np.ndarray
    old_logprobs: np.ndarray
    rewards: np.ndarray
    pass_rates: np.ndarray
    truncated: np.ndarray
    response_lengths: np.ndarray
    group_size: int
    questions: list[Question]
    completions: list[str]
    outcomes: list[tuple[str, ...]] = field(default_factory=list)
    counts: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Number of sampled completions."""
        return int(self.input_ids.shape[0])


# (prompts, n, seed, prompt_seeds) -> sample.Generation (sample j of prompt i: key (seed, prompt_seeds[i], j))
Generate = Callable[[list[tuple[int, ...]], int, int, list[int]], Any]


def collect_rollouts(
    questions: Sequence[Question],
    *,
    generate: Generate,
    decode: Callable[[list[int]], str],
    reward: Reward,
    group_size: int,
    seed: int,
    chunk_questions: int = 0,
    truncation: str = "keep",
    overlong_buffer: int = 0,
    overlong_penalty: float = 0.0,
    max_new_tokens: int = 0,
    first_index: int = 0,
) -> Rollouts:
    """Sample `group_size` completions per question, chunk by chunk, judging each chunk while the next one
    decodes. `generate(prompts, n, seed, prompt_seeds)` is the sampler (returning a Generation with
    log-probabilities); question k's prompt seed is `first_index + k` (its position in the whole rollout
    batch), so its samples do not depend on the chunking or on which process draws them. `decode` turns
    response tokens into text. Truncated responses (no EOS before max_new_tokens) are kept,
    masked out of the loss (`mask`) or given reward 0 (`zero`); with `overlong_buffer` the reward also falls
    linearly to -overlong_penalty over the last `overlong_buffer` tokens before max_new_tokens (DAPO)."""
    if truncation not in TRUNCATION:
        raise ValueError(f"truncation must be one of {TRUNCATION}, got {truncation!r}")
    chunk = chunk_questions or len(questions)
    pending: list[tuple[Pending, int]] = []
    tokens: list[list[int]] = []
    logprobs: list[list[float]] = []
    reasons: list[str] = []
    completions: list[str] = []
    generating = 0.0
    for start in range(0, len(questions), chunk):
        part = list(questions[start : start + chunk])
        began = time.perf_counter()
        positions = list(range(first_index + start, first_index + start + len(part)))
        out = generate([q.prompt.token_ids for q in part], group_size, seed, positions)
        generating += time.perf_counter() - began
        texts = [decode(list(t)) for t in out.tokens]
        samples = [
            Sample(q.id, q.question, q.prompt.response_prefix + texts[i * group_size + j], q.tests)
            for i, q in enumerate(part)
            for j in range(group_size)
        ]
        pending.append((reward.submit(samples), len(samples)))
        tokens += [list(t) for t in out.tokens]
        logprobs += [list(lp) for lp in out.logprobs]
        reasons += list(out.finish_reasons)
        completions += texts
    began = time.perf_counter()
    judged = [p.result() for p, _ in pending]
    waited = time.perf_counter() - began
    rewarded = _concat(judged)
    truncated = np.array([r == "length" for r in reasons])
    rewards = rewarded.rewards.astype(np.float32).copy()
    lengths = np.array([len(t) for t in tokens], np.int32)
    if overlong_buffer and max_new_tokens:
        over = np.clip(lengths - (max_new_tokens - overlong_buffer), 0, overlong_buffer)
        rewards -= overlong_penalty * over / overlong_buffer
    if truncation == "zero":
        rewards[truncated] = 0.0
    batch = _layout([q.prompt.token_ids for q in questions for _ in range(group_size)], tokens, logprobs)
    if truncation == "mask":
        batch["response_mask"][truncated] = 0
    counts = {**rewarded.counts, "truncated": float(truncated.sum())}
    seconds = {"generate": generating, "reward_wait": waited}
    return Rollouts(
        **batch,
        rewards=rewards,
        pass_rates=rewarded.pass_rates,
        truncated=truncated,
        response_lengths=lengths,
        group_size=group_size,
        questions=list(questions),
        completions=completions,
        outcomes=rewarded.outcomes,
        counts=counts,
        seconds=seconds,
    )


def _concat(parts: list[Rewarded]) -> Rewarded:
    counts: dict[str, float] = {}
    for part in parts:
        for key, value in part.counts.items():
            counts[key] = counts.get(key, 0.0) + value
    return Rewarded(
        np.concatenate([p.rewards for p in parts]) if parts else np.zeros(0, np.float32),
        np.concatenate([p.pass_rates for p in parts]) if parts else np.zeros(0, np.float32),
        counts,
        [o for p in parts for o in p.outcomes],
    )


def _layout(
    prompts: list[tuple[int, ...]], responses: list[list[int]], logprobs: list[list[float]], pad_id: int = 0
) -> dict[str, np.ndarray]:
    """Left-padded prompts then right-padded responses, with masks and the responses' log-probabilities."""
    width_prompt = max((len(p) for p in prompts), default=1)
    width_response = max((len(r) for r in responses), default=1) or 1
    rows = len(prompts)
    ids = np.full((rows, width_prompt + width_response), pad_id, np.int32)
    attention = np.zeros_like(ids)
    response_mask = np.zeros_like(ids)
    old = np.zeros(ids.shape, np.float32)
    for row, (prompt, response, lp) in enumerate(zip(prompts, responses, logprobs)):
        ids[row, width_prompt - len(prompt) : width_prompt] = prompt
        attention[row, width_prompt - len(prompt) : width_prompt + len(response)] = 1
        ids[row, width_prompt : width_prompt + len(response)] = response
        response_mask[row, width_prompt : width_prompt + len(response)] = 1
        old[row, width_prompt : width_prompt + len(response)] = lp
    return {
        "input_ids": ids,
        "attention_mask": attention,
        "response_mask": response_mask,
        "old_logprobs": old,
    }
