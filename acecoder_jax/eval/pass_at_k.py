"""The unbiased pass@k estimator (Chen et al. 2021) and its best-of-N counterpart for a reranker."""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) is correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    # 1 - C(n-c, k) / C(n, k), as a product so large n never overflows.
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def expected_best_of_k(scores: Sequence[float], correct: Sequence[float], k: int) -> float:
    """Expected correctness of the highest-scoring candidate among k drawn without replacement from the pool.

    Candidates are ranked by score (ties: earlier index first); the one at rank r (0-based) is the pick of a
    random k-subset with probability C(n-1-r, k-1) / C(n, k). With k = n this is the pool's argmax.
    """
    n = len(scores)
    if len(correct) != n:
        raise ValueError(f"{n} scores but {len(correct)} correctness values")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    order = sorted(range(n), key=lambda i: (-float(scores[i]), i))
    weights = np.array([_ratio_of_combinations(n - 1 - r, k - 1, n, k) for r in range(n)])
    values = np.array([float(correct[i]) for i in order])
    return float(np.dot(weights, values))


def _ratio_of_combinations(a: int, b: int, n: int, k: int) -> float:
    """C(a, b) / C(n, k) without big integers overflowing floats."""
    if b < 0 or a < b:
        return 0.0
    return comb(a, b) / comb(n, k)
