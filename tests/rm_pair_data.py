"""A small, separable AceCodePair-style preference set: chosen programs are correct, rejected ones are not.

Chosen programs use the task's operator and end with a comment word from GOOD, rejected ones use another
task's
operator and a word from BAD. Every operator and word is drawn at random per pair, so no single feature has
the
same sign in every pair: a random model ranks about half the pairs right, and a tiny model can still learn the
ranking from the words. Tests and configs/rm/tiny_cpu.yaml use it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

PREFIX = (
    "Below is a Python script with a self-contained function that solves the problem and passes "
    "corresponding tests:\n"
)
OPS = {
    "sum": "a + b",
    "product": "a * b",
    "difference": "a - b",
    "maximum": "max(a, b)",
    "minimum": "min(a, b)",
}
GOOD = ("verified", "correct", "passing", "tested", "robust", "clean", "solid", "exact")
BAD = ("broken", "wrong", "failing", "buggy", "flaky", "sloppy", "unsafe", "crashes")


def make_pairs(n: int, seed: int = 0) -> list[dict[str, str]]:
    """`n` rows {id, instruction, input, chosen, rejected}."""
    rng = random.Random(seed)
    rows = []
    names = sorted(OPS)
    for i in range(n):
        name = rng.choice(names)
        wrong = rng.choice([other for other in names if other != name])
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        fn = f"f{i}"
        instruction = f"Write a function {fn}(a, b) that returns the {name} of a and b."
        test = f"assert {fn}({a}, {b}) == {eval(OPS[name], {'max': max, 'min': min}, {'a': a, 'b': b})}"
        good, bad = rng.choice(GOOD), rng.choice(BAD)
        rows.append(
            {
                "id": f"pair-{i}",
                "instruction": instruction,
                "input": test if i % 2 else "",
                "chosen": f"{PREFIX}```python\ndef {fn}(a, b):\n    return {OPS[name]}  # {good}\n```",
                "rejected": f"{PREFIX}```python\ndef {fn}(a, b):\n    return {OPS[wrong]}  # {bad}\n```",
            }
        )
    return rows


def write_pairs(path: str | Path, n: int, seed: int = 0) -> Path:
    """Write `make_pairs(n, seed)` as JSONL."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in make_pairs(n, seed)), encoding="utf-8")
    return path


if __name__ == "__main__":
    write_pairs(Path(__file__).parent / "fixtures" / "rm_pairs_tiny.jsonl", 320, seed=0)
    write_pairs(Path(__file__).parent / "fixtures" / "rm_pairs_tiny_eval.jsonl", 32, seed=1)
