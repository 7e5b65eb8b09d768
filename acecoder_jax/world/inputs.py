"""Random test arguments for the world's families (drawn from each problem's own seeded rng)."""

from __future__ import annotations

import random

WORDS = (
    "apple", "banana", "cherry", "data", "hello", "world", "python", "code", "test", "river", "stone",
    "light", "tree", "sun", "moon", "star", "blue", "green", "red", "sky", "sea", "night", "day", "cat",
    "dog", "bird", "fish", "house", "road", "book", "paper", "music", "rain", "snow", "wind", "fire",
    "a", "an", "on", "up", "at", "go", "garden", "window", "orange", "purple", "morning", "kitchen",
    "elephant", "mountain", "keyboard", "sunshine",
)  # fmt: skip


def integer(rng: random.Random, low: int = -20, high: int = 20) -> int:
    """A uniform integer in [low, high]."""
    return rng.randint(low, high)


def int_list(
    rng: random.Random, min_len: int = 0, max_len: int = 7, low: int = -5, high: int = 15
) -> list[int]:
    """A list of uniform integers with a uniform length in [min_len, max_len]."""
    return [rng.randint(low, high) for _ in range(rng.randint(min_len, max_len))]


def near_list(rng: random.Random, k: int, spread: int = 6, max_len: int = 7) -> list[int]:
    """A list whose elements sit around `k` and often equal it, so every comparison with k is exercised."""
    return [
        k if rng.random() < 0.2 else rng.randint(k - spread, k + spread)
        for _ in range(rng.randint(0, max_len))
    ]


def word(rng: random.Random) -> str:
    """One lowercase word."""
    return rng.choice(WORDS)


def mixed_case_word(rng: random.Random) -> str:
    """A word with some letters upper-cased, so case conversions differ from each other."""
    return "".join(c.upper() if rng.random() < 0.3 else c for c in word(rng))


def sentence(rng: random.Random, min_words: int = 1, max_words: int = 5) -> str:
    """Lowercase words joined by single spaces."""
    return " ".join(word(rng) for _ in range(rng.randint(min_words, max_words)))
