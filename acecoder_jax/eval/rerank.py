"""Reranking: keep the candidate the reward model scores highest."""

from __future__ import annotations

from collections.abc import Sequence


def best_index(scores: Sequence[float]) -> int:
    """Index of the highest score (the first one on ties)."""
    if not scores:
        raise ValueError("no candidates to rerank")
    return max(range(len(scores)), key=lambda i: (float(scores[i]), -i))


def rerank(candidates: Sequence[str], scores: Sequence[float]) -> str:
    """The candidate with the highest reward-model score."""
    if len(candidates) != len(scores):
        raise ValueError(f"{len(candidates)} candidates but {len(scores)} scores")
    return candidates[best_index(scores)]
