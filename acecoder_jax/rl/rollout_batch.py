"""From collected rollouts to training rows: fixed widths, dynamic filtering, advantages, metrics.

Every rollout batch is laid out at one fixed width (prompt columns, then response columns) so the train step
and the log-probability functions compile once. Groups (the `group_size` samples of one question) stay
together and prompt-major through filtering, so group estimators (GRPO, RLOO, Dr. GRPO) see whole groups.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from acecoder_jax.rl.estimators import compute_advantages, kl_penalty
from acecoder_jax.rl.rollout import Rollouts
from acecoder_jax.train.hosts import gather_objects, gather_rows, multi_process

ARRAY_FIELDS = ("input_ids", "attention_mask", "response_mask", "old_logprobs")


@dataclass
class RolloutBatch:
    """A rollout batch ready to train on: [R, P + T] arrays, R = prompts x group_size, prompt-major."""

    arrays: dict[str, np.ndarray]  # input_ids, attention_mask, response_mask, old_logprobs, ...
    rewards: np.ndarray  # [R] the scalar rewards (before KL)
    pass_rates: np.ndarray  # [R]
    truncated: np.ndarray  # [R] bool
    response_lengths: np.ndarray  # [R]
    question_ids: list[str]  # [R / group_size]
    outcomes: list[tuple[str, ...]]  # [R] per-test outcomes
    group_size: int

    @property
    def rows(self) -> int:
        return int(self.rewards.shape[0])


def fixed_width(rollouts: Rollouts, prompt_width: int, response_width: int, pad_id: int) -> RolloutBatch:
    """`rollouts` re-padded to `prompt_width` prompt columns (left) and `response_width` response columns."""
    prompt_now = max((len(q.prompt.token_ids) for q in rollouts.questions), default=0)
    response_now = rollouts.input_ids.shape[1] - prompt_now
    if prompt_now > prompt_width or response_now > response_width:
        raise ValueError(
            f"rollout of width {prompt_now}+{response_now} does not fit {prompt_width}+{response_width}"
        )
    left, right = prompt_width - prompt_now, response_width - response_now
    arrays = {}
    for name in ARRAY_FIELDS:
        value = getattr(rollouts, name)
        fill = pad_id if name == "input_ids" else 0
        arrays[name] = np.pad(value, ((0, 0), (left, right)), constant_values=fill)
    return RolloutBatch(
        arrays=arrays,
        rewards=rollouts.rewards.astype(np.float32),
        pass_rates=rollouts.pass_rates.astype(np.float32),
        truncated=rollouts.truncated.astype(bool),
        response_lengths=rollouts.response_lengths,
        question_ids=[q.id for q in rollouts.questions],
        outcomes=list(rollouts.outcomes) or [() for _ in range(rollouts.rows)],
        group_size=rollouts.group_size,
    )


def gathered(batch: RolloutBatch) -> RolloutBatch:
    """Every process's rows of `batch` (same widths everywhere), in process order (`batch` itself in a single
    process)."""
    if not multi_process():
        return batch
    hosts = gather_objects(
        {"question_ids": batch.question_ids, "outcomes": [list(o) for o in batch.outcomes]}
    )
    return RolloutBatch(
        arrays={k: gather_rows(v) for k, v in batch.arrays.items()},
        rewards=gather_rows(batch.rewards),
        pass_rates=gather_rows(batch.pass_rates),
        truncated=gather_rows(batch.truncated),
        response_lengths=gather_rows(batch.response_lengths),
        question_ids=[q for host in hosts for q in host["question_ids"]],
        outcomes=[tuple(o) for host in hosts for o in host["outcomes"]],
        group_size=batch.group_size,
    )


def informative_groups(pass_rates: np.ndarray, group_size: int) -> np.ndarray:
    """[groups] bool: the group's raw pass rates are not all equal (it carries a learning signal)."""
    grouped = pass_rates.reshape(-1, group_size)
    return grouped.max(axis=1) > grouped.min(axis=1)


def concat(batches: Sequence[RolloutBatch]) -> RolloutBatch:
    """One batch from several (same widths and group size), in order."""
    first = batches[0]
    return RolloutBatch(
        arrays={k: np.concatenate([b.arrays[k] for b in batches]) for k in first.arrays},
        rewards=np.concatenate([b.rewards for b in batches]),
        pass_rates=np.concatenate([b.pass_rates for b in batches]),
        truncated=np.concatenate([b.truncated for b in batches]),
        response_lengths=np.concatenate([b.response_lengths for b in batches]),
        question_ids=[q for b in batches for q in b.question_ids],
        outcomes=[o for b in batches for o in b.outcomes],
        group_size=first.group_size,
    )


def select_groups(batch: RolloutBatch, groups: Sequence[int]) -> RolloutBatch:
    """The rows of `groups` (group indices), in that order."""
    g = batch.group_size
    rows = np.array([group * g + j for group in groups for j in range(g)], dtype=np.int64)
    return RolloutBatch(
        arrays={k: v[rows] for k, v in batch.arrays.items()},
        rewards=batch.rewards[rows],
        pass_rates=batch.pass_rates[rows],
        truncated=batch.truncated[rows],
        response_lengths=batch.response_lengths[rows],
        question_ids=[batch.question_ids[group] for group in groups],
        outcomes=[batch.outcomes[row] for row in rows],
        group_size=g,
    )


def keep_informative(batch: RolloutBatch, wanted_groups: int) -> tuple[RolloutBatch, int]:
    """(`wanted_groups` groups, informative ones first, then uninformative ones to fill; filtered count).

    The batch keeps a fixed size (one compiled shape); the filler groups are the least harmful rows to train
    on (their group advantages are zero) and are counted in the `filtered_groups` metric.
    """
    informative = informative_groups(batch.pass_rates, batch.group_size)
    order = [*np.flatnonzero(informative), *np.flatnonzero(~informative)][:wanted_groups]
    filtered = int(sum(not informative[i] for i in order))
    return select_groups(batch, order), filtered


def add_advantages(
    batch: RolloutBatch,
    *,
    estimator: str,
    kl_coef: float,
    kl_estimator: str,
    gamma: float,
    ref_logprobs: np.ndarray | None,
) -> dict[str, float]:
    """Fill batch.arrays["advantages"] (and "ref_logprobs"); returns the reward-side KL metric."""
    mask = batch.arrays["response_mask"].astype(np.float32)
    old = batch.arrays["old_logprobs"]
    advantages = compute_advantages(
        estimator,
        batch.rewards,
        mask,
        logprobs=old if kl_coef else None,
        ref_logprobs=ref_logprobs if kl_coef else None,
        kl_coef=kl_coef,
        kl_estimator=kl_estimator,
        group_size=batch.group_size,
        gamma=gamma,
    )
    batch.arrays["advantages"] = np.asarray(advantages, np.float32)
    metrics: dict[str, float] = {}
    if ref_logprobs is not None:
        batch.arrays["ref_logprobs"] = ref_logprobs.astype(np.float32)
        kl = np.asarray(kl_penalty(old, ref_logprobs, "k1")) * mask
        metrics["kl"] = float(kl.sum() / max(mask.sum(), 1.0))
    return metrics


def rollout_metrics(batch: RolloutBatch) -> dict[str, float]:
    """The rollout side of the step metrics: rewards, pass rates, lengths, truncation."""
    grouped = batch.pass_rates.reshape(-1, batch.group_size)
    return {
        "reward_mean": float(batch.rewards.mean()),
        "pass_rate": float(batch.pass_rates.mean()),
        "all_pass_frac": float((grouped.min(axis=1) == 1.0).mean()),
        "all_fail_frac": float((grouped.max(axis=1) == 0.0).mean()),
        "response_length": float(batch.response_lengths.mean()),
        "truncated_frac": float(batch.truncated.mean()),
    }


def in_row_chunks(
    fn: Callable[[dict[str, np.ndarray]], np.ndarray], arrays: dict[str, np.ndarray], rows: int
) -> np.ndarray:
    """fn over consecutive chunks of `rows` rows (bounded memory), concatenated."""
    total = next(iter(arrays.values())).shape[0]
    parts = [fn({k: v[s : s + rows] for k, v in arrays.items()}) for s in range(0, total, rows)]
    return np.concatenate(parts)
