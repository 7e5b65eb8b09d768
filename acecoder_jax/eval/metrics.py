"""Best-of-N metrics from one pool of samples per problem: greedy, average, oracle@N, RM@N.

With a pool of M samples and N <= M, oracle@N is the unbiased pass@N and RM@N the expected correctness of the
reward model's top pick among N samples drawn from the pool (both exact expectations over N-subsets), so
every N is computed from the same M samples without resampling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .pass_at_k import expected_best_of_k, pass_at_k

AVERAGE = "average"  # name of the column averaging the benchmarks


@dataclasses.dataclass
class ProblemOutcome:
    """Execution results (and RM scores) of one problem's sample pool and its greedy answer."""

    benchmark: str
    task_id: str
    correct: list[bool]
    scores: list[float] | None = None
    greedy_correct: bool | None = None


def default_ns(pool: int) -> list[int]:
    """1, 2, 4, ... up to the pool size (64 for the paper's pool)."""
    ns, n = [], 1
    while n <= pool:
        ns.append(n)
        n *= 2
    return ns


def problem_metrics(outcome: ProblemOutcome, ns: Sequence[int]) -> dict[str, float]:
    """Metric name -> value in [0, 1] for one problem."""
    pool = len(outcome.correct)
    out: dict[str, float] = {}
    if outcome.greedy_correct is not None:
        out["greedy"] = float(outcome.greedy_correct)
    if pool:
        correct_count = sum(bool(c) for c in outcome.correct)
        out[f"average@{pool}"] = correct_count / pool
        for n in ns:
            if n > pool:
                raise ValueError(f"{outcome.task_id}: N={n} is larger than the pool of {pool} samples")
            out[f"oracle@{n}"] = pass_at_k(pool, correct_count, n)
            if outcome.scores is not None:
                out[f"rm@{n}"] = expected_best_of_k(outcome.scores, outcome.correct, n)
    return out


def benchmark_metrics(outcomes: Sequence[ProblemOutcome], ns: Sequence[int]) -> dict[str, dict[str, float]]:
    """{benchmark or "average": {metric: percent}}: each benchmark's mean over problems, then their mean."""
    per_benchmark: dict[str, list[dict[str, float]]] = {}
    for outcome in outcomes:
        per_benchmark.setdefault(outcome.benchmark, []).append(problem_metrics(outcome, ns))
    table: dict[str, dict[str, float]] = {}
    for benchmark, rows in per_benchmark.items():
        names = [name for name in rows[0] if all(name in row for row in rows)]
        table[benchmark] = {name: 100.0 * float(np.mean([row[name] for row in rows])) for name in names}
    if table:
        names = [name for name in next(iter(table.values())) if all(name in t for t in table.values())]
        table[AVERAGE] = {name: float(np.mean([t[name] for t in table.values()])) for name in names}
    return table
