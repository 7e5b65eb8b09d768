"""A policy's pass rates on AceCode-87K rows: sample with the JAX sampler, judge in the sandboxed executor.

Each question is prompted as `acecoder sample` and RL prompt it (`rl.prompting.build_prompt`, chat style:
question + first two tests, the released assistant prefill ending in an open python fence); a completion is
judged by `rl.rewards.RuleReward` (the last fenced block, run against every test of the row). Reported per
split:
- greedy: `pass_at_1` = fraction of questions whose greedy program passes every test; `pass_rate` = mean
  fraction of tests passed;
- sampled (n at a temperature): the same two over all samples, plus `mixed` = fraction of questions whose
  samples do not all score alike (the spread that pairs, reward models and RL learn from).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from acecoder_jax.common.schemas import iter_acecode
from acecoder_jax.rl.prompting import Prompt, build_prompt
from acecoder_jax.rl.rewards import RuleReward, Sample


@dataclass(frozen=True)
class Question:
    """An AceCode-87K row's id and tests, with its prompt."""

    id: str
    tests: tuple[str, ...]
    prompt: Prompt


@dataclass(frozen=True)
class Sampling:
    """How completions are drawn."""

    max_new_tokens: int
    eos_ids: tuple[int, ...]
    n: int = 0
    temperature: float = 0.8
    top_p: float = 1.0
    greedy: bool = True
    seed: int = 0
    batch_size: int | None = None


def read_questions(path: str | Path, tokenizer: Any, limit: int = 0, *, every: int = 1) -> list[Question]:
    """Every `every`-th row of an AceCode-87K JSONL/parquet file (all families of a file grouped by family),
    at most `limit` of them (0: no limit), prompted in chat style."""
    questions = []
    for index, row in enumerate(iter_acecode(path)):
        if index % every:
            continue
        prompt = build_prompt(tokenizer, row.question, row.test_cases, "chat")
        questions.append(Question(str(row.id), tuple(row.test_cases), prompt))
        if limit and len(questions) >= limit:
            break
    return questions


def policy_pass_rates(
    model: Any,
    tokenizer: Any,
    questions: Sequence[Question],
    sampling: Sampling,
    reward: RuleReward,
    *,
    mesh: Any = None,
    details: Path | None = None,
) -> dict[str, Any]:
    """Greedy and sampled pass rates of `model` on `questions` (see the module docstring); with `details`,
    one JSONL row per question (completions and pass rates) is written there.

    Multi-host: process p samples and judges questions p, p + P, ... (question i always draws with prompt
    seed i, so the numbers equal a single process's); every process returns the whole job's summary."""
    import jax

    from acecoder_jax.sample import generate
    from acecoder_jax.train.hosts import gather_objects

    mine = list(range(jax.process_index(), len(questions), jax.process_count()))
    local = [questions[i] for i in mine]
    prompts = [q.prompt.token_ids for q in local]
    common = dict(
        max_new_tokens=sampling.max_new_tokens,
        eos_ids=sampling.eos_ids,
        mesh=mesh,
        batch_size=sampling.batch_size,
        prompt_seeds=mine,
    )
    per_question: list[dict[str, Any]] = [{"id": q.id} for q in local]
    if sampling.greedy:
        texts = _decode(tokenizer, generate(model, prompts, n=1, **common).tokens)
        rates = _judge(reward, local, texts, 1)
        for row, text, rate in zip(per_question, texts, rates[:, 0]):
            row |= {"greedy": text, "greedy_pass_rate": float(rate)}
    if sampling.n:
        out = generate(
            model,
            prompts,
            n=sampling.n,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            seed=sampling.seed,
            **common,
        )
        texts = _decode(tokenizer, out.tokens)
        rates = _judge(reward, local, texts, sampling.n)
        for index, row in enumerate(per_question):
            row |= {
                "samples": texts[index * sampling.n : (index + 1) * sampling.n],
                "pass_rates": [float(r) for r in rates[index]],
            }
    everyone = sorted(
        (pair for host in gather_objects(list(zip(mine, per_question))) for pair in host), key=lambda p: p[0]
    )
    per_question = [row for _, row in everyone]
    summary: dict[str, Any] = {"questions": len(questions)}
    if sampling.greedy:
        greedy = np.array([row["greedy_pass_rate"] for row in per_question], np.float64)
        summary["greedy"] = {"pass_at_1": float(np.mean(greedy == 1.0)), "pass_rate": float(np.mean(greedy))}
    if sampling.n:
        sampled = np.array([row["pass_rates"] for row in per_question], np.float64).reshape(-1, sampling.n)
        summary["sampled"] = {
            "n": sampling.n,
            "temperature": sampling.temperature,
            "pass_at_1": float(np.mean(sampled == 1.0)),
            "pass_rate": float(np.mean(sampled)),
            "mixed": float(np.mean(sampled.min(axis=1) < sampled.max(axis=1))),
        }
    if details is not None:
        details.write_text("".join(json.dumps(row) + "\n" for row in per_question), encoding="utf-8")
    return summary


def _decode(tokenizer: Any, tokens: Sequence[Sequence[int]]) -> list[str]:
    return [tokenizer.decode(list(t), skip_special_tokens=True) for t in tokens]


def _judge(reward: RuleReward, questions: Sequence[Question], texts: list[str], n: int) -> np.ndarray:
    """[questions, n] pass rates of prompt-major completions."""
    samples = [
        Sample(q.id, "", q.prompt.response_prefix + texts[i * n + j], q.tests)
        for i, q in enumerate(questions)
        for j in range(n)
    ]
    return np.asarray(reward.score(samples).pass_rates, np.float64).reshape(len(questions), n)
