"""Rewards for RL rollouts behind one small interface: `submit(samples)` returns a handle whose `result()`
gives one reward per sample, so the executor can judge a chunk of rollouts while the next one is decoded.

- `RuleReward`: the rule reward. The executor runs each program against its question's tests (one warm
  `Executor` for the whole run), with a cache keyed by (question id, normalised program); the reward is the
  pass rate (AceCoder), 1/0 for all-pass (`binary`, the paper's), or the pass rate + 0.5 when all pass
  (`bonus`, the fork's server). A program that hangs, crashes, floods output or forks gets 0 and is counted;
  results that miss the deadline count 0 and the executor's queue for them is dropped.
- `FormatReward`: 1 when a completion follows the R1 `<think>/<answer>` template.
- `WeightedReward`: a weighted sum of rewards.
- `ScoreReward`: a score function over (prompt, completion) pairs, e.g. the reward model on the mesh.
- `HybridReward`: the rule reward, with ties inside a group whose pass rates are all equal broken by a small
  multiple of the reward model's centred score (beyond the anchors: where the rule reward carries no signal).
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from acecoder_jax.rl.answer import answer_program, follows_r1_format
from executor.ast_guard import parse

MODES = ("pass_rate", "binary", "bonus")
FAILED_STATUSES = ("syntax_error", "load_error", "timeout", "memory", "crash")


@dataclass(frozen=True)
class Sample:
    """One rollout: which question it answers, the prompt and the completion, and the question's tests."""

    question_id: str
    prompt: str
    completion: str
    tests: tuple[Any, ...] = ()


@dataclass
class Rewarded:
    """Rewards of a batch of samples, and what happened on the way (counts)."""

    rewards: np.ndarray
    pass_rates: np.ndarray
    counts: dict[str, float] = field(default_factory=dict)
    # per sample: outcome per test (pass/fail/...), for reports of tests no rollout passes
    outcomes: list[tuple[str, ...]] = field(default_factory=list)


class Pending(Protocol):
    """A submitted batch: `result()` blocks until its rewards are known (or the deadline passed)."""

    def result(self) -> Rewarded: ...


class Reward(Protocol):
    """What the RL loop calls: submit a chunk of samples as soon as it is decoded."""

    def submit(self, samples: Sequence[Sample]) -> Pending: ...


@dataclass
class _Done:
    value: Rewarded

    def result(self) -> Rewarded:
        return self.value


def normalised_program(program: str) -> str:
    """The program up to formatting and comments (its AST), so trivially different samples share a result."""
    try:
        return ast.dump(parse(program))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return program.strip()


class RuleReward:
    """The rule reward: pass rates from the sandboxed executor, cached, with a per-batch deadline."""

    def __init__(
        self,
        executor: Any,
        *,
        mode: str = "pass_rate",
        deadline_s: float = 600.0,
        cache_size: int = 1 << 16,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"reward mode must be one of {MODES}, got {mode!r}")
        self.executor, self.mode, self.deadline_s = executor, mode, deadline_s
        self._cache: dict[tuple[str, str], tuple[float, tuple[str, ...], str]] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._runner = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rule-reward")
        self.cache_hits = 0

    def submit(self, samples: Sequence[Sample]) -> Pending:
        """Start judging `samples` in the background (jobs run in submission order)."""
        samples = list(samples)
        deadline = time.monotonic() + self.deadline_s
        verdicts: dict[int, tuple[float, tuple[str, ...], str]] = {}
        future = self._runner.submit(self._judge, samples, deadline, verdicts)
        return _Deadline(future, samples, deadline, verdicts, self)

    def score(self, samples: Sequence[Sample]) -> Rewarded:
        """Judge `samples` and wait."""
        return self.submit(samples).result()

    def close(self) -> None:
        """Stop the background thread (the executor is the caller's)."""
        self._runner.shutdown(wait=True)

    def _judge(self, samples: list[Sample], deadline: float, results: dict[int, tuple]) -> None:
        """Fill `results` (sample index -> verdict) as the executor delivers; stop at the deadline."""
        from executor import Job

        todo: dict[tuple[str, str], list[int]] = {}
        programs: dict[tuple[str, str], tuple[str, tuple[Any, ...]]] = {}
        for index, sample in enumerate(samples):
            program = answer_program(sample.completion)
            key = (sample.question_id, normalised_program(program))
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None:
                    self.cache_hits += 1
                    results[index] = cached
                    continue
            todo.setdefault(key, []).append(index)
            programs[key] = (program, sample.tests)
        keys = list(todo)
        jobs = (Job(str(number), programs[key][0], list(programs[key][1])) for number, key in enumerate(keys))
        stream = self.executor.map(jobs)
        try:
            for key, result in zip(keys, stream):
                verdict = (
                    float(result.pass_rate),
                    tuple(t.outcome for t in result.tests),
                    result.status,
                )
                with self._lock:
                    if len(self._cache) >= self._cache_size:
                        self._cache.clear()
                    self._cache[key] = verdict
                    for index in todo[key]:
                        results[index] = verdict
                if time.monotonic() > deadline:
                    break  # the rest count 0; closing the stream drops their queued jobs
        finally:
            stream.close()

    def rewards_from(self, samples: list[Sample], verdicts: dict[int, tuple]) -> Rewarded:
        """Rewards and counts from the executor's verdicts (missing ones: past the deadline)."""
        pass_rates = np.zeros(len(samples), np.float32)
        outcomes: list[tuple[str, ...]] = []
        counts = {"late": 0.0, "all_pass": 0.0, **{s: 0.0 for s in FAILED_STATUSES}, "test_timeout": 0.0}
        for index, sample in enumerate(samples):
            verdict = verdicts.get(index)
            if verdict is None:
                counts["late"] += 1
                outcomes.append(tuple("skipped" for _ in sample.tests))
                continue
            rate, tests, status = verdict
            pass_rates[index] = rate
            outcomes.append(tests)
            if status in counts:
                counts[status] += 1
            counts["test_timeout"] += sum(o == "timeout" for o in tests)
            counts["all_pass"] += float(bool(tests) and rate == 1.0)
        all_pass = (pass_rates == 1.0).astype(np.float32)
        if self.mode == "binary":
            rewards = all_pass
        elif self.mode == "bonus":
            rewards = pass_rates + 0.5 * all_pass
        else:
            rewards = pass_rates.copy()
        return Rewarded(rewards, pass_rates, counts, outcomes)


@dataclass
class _Deadline:
    future: concurrent.futures.Future
    samples: list[Sample]
    deadline: float
    verdicts: dict[int, tuple]
    owner: RuleReward

    def result(self) -> Rewarded:
        with contextlib.suppress(concurrent.futures.TimeoutError):
            self.future.result(timeout=max(self.deadline - time.monotonic(), 0.0))
        with self.owner._lock:  # what arrived by the deadline; the rest counts 0 ("late")
            verdicts = dict(self.verdicts)
        return self.owner.rewards_from(self.samples, verdicts)


class FormatReward:
    """1.0 for a completion in the R1 `<think> ... </think> <answer> ... </answer>` format, else 0."""

    def submit(self, samples: Sequence[Sample]) -> Pending:
        """Score at once (no work to overlap)."""
        ok = np.array([follows_r1_format(s.completion) for s in samples], np.float32)
        return _Done(Rewarded(ok, np.zeros(len(ok), np.float32), {"format_ok": float(ok.sum())}))


class ScoreReward:
    """Rewards from a score function over samples (e.g. the reward model's score of prompt + completion)."""

    def __init__(self, score: Callable[[Sequence[Sample]], np.ndarray]) -> None:
        self.score = score

    def submit(self, samples: Sequence[Sample]) -> Pending:
        """Score now (the reward model runs on the mesh, which the caller is not using meanwhile)."""
        values = np.asarray(self.score(samples), np.float32)
        return _Done(Rewarded(values, np.zeros(len(values), np.float32)))


class WeightedReward:
    """sum_i weight_i * reward_i; pass rates and counts from the first reward that has them."""

    def __init__(self, parts: Iterable[tuple[float, Reward]]) -> None:
        self.parts = list(parts)

    def submit(self, samples: Sequence[Sample]) -> Pending:
        """Submit to every part; combine when asked."""
        pending = [(weight, reward.submit(samples)) for weight, reward in self.parts]
        return _Combined(pending)


@dataclass
class _Combined:
    pending: list[tuple[float, Pending]]

    def result(self) -> Rewarded:
        done = [(weight, p.result()) for weight, p in self.pending]
        total = sum(weight * r.rewards for weight, r in done)
        first = done[0][1]
        counts: dict[str, float] = {}
        for _, r in done:
            counts.update(r.counts)
        return Rewarded(np.asarray(total, np.float32), first.pass_rates, counts, first.outcomes)


class HybridReward:
    """The rule reward; inside a group of `group_size` samples whose pass rates are all equal (all pass or
    all fail: the rule reward has no signal there) add `coef` times the reward model's score centred within
    the group."""

    def __init__(self, rule: RuleReward, model: ScoreReward, group_size: int, coef: float = 0.1) -> None:
        self.rule, self.model, self.group_size, self.coef = rule, model, group_size, coef

    def submit(self, samples: Sequence[Sample]) -> Pending:
        """Submit to both; combine per group when asked."""
        if len(samples) % self.group_size:
            raise ValueError(f"{len(samples)} samples are not whole groups of {self.group_size}")
        return _Hybrid(self.rule.submit(samples), self.model.submit(samples), self.group_size, self.coef)


@dataclass
class _Hybrid:
    rule: Pending
    model: Pending
    group_size: int
    coef: float

    def result(self) -> Rewarded:
        rule, model = self.rule.result(), self.model.result()
        rates = rule.pass_rates.reshape(-1, self.group_size)
        scores = model.rewards.reshape(-1, self.group_size)
        tied = np.all(rates == rates[:, :1], axis=1, keepdims=True)
        centred = scores - scores.mean(axis=1, keepdims=True)
        bonus = np.where(tied, self.coef * centred, 0.0).reshape(-1)
        counts = {**rule.counts, "tied_groups": float(tied.sum())}
        return Rewarded((rule.rewards + bonus).astype(np.float32), rule.pass_rates, counts, rule.outcomes)
