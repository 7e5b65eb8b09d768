"""Load AceCodePair rows (JSONL, parquet or a tfds array_record dir), check them and tokenize them once.

Bad rows (a missing or non-string field, an empty chosen/rejected, a pair longer than `max_length` when
truncation is off) are named by file and row; `on_bad_row="fail"` stops at the first, `"skip"` drops and
counts
them. The result keeps token ids in three flat int32 arrays with offsets, so the grain pipeline only slices.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from acecoder_jax.common.rows import iter_rows
from acecoder_jax.data.bad_rows import BadRowReport, cache_key, reject_row
from acecoder_jax.data.pair_format import llamafactory_lengths, prompt_text, response_text

PAIR_FIELDS = ("instruction", "input", "chosen", "rejected")
_TOKENIZE_CHUNK = 1024  # rows per fast-tokenizer batch call


class PairDataError(ValueError):
    """A preference row that cannot be trained on; the message names the file, row and field."""


@dataclasses.dataclass
class EncodedPairs:
    """Tokenized pairs: part k of pair i is `tokens[k][offsets[k][i]:offsets[k][i+1]]` (k: prompt, chosen,
    rejected)."""

    tokens: tuple[np.ndarray, np.ndarray, np.ndarray]
    offsets: tuple[np.ndarray, np.ndarray, np.ndarray]
    where: list[str]  # file:row of each pair, for messages

    def __len__(self) -> int:
        return len(self.where)

    def part(self, kind: int, i: int) -> np.ndarray:
        """Token ids of part `kind` (0 prompt, 1 chosen, 2 rejected) of pair i."""
        return self.tokens[kind][self.offsets[kind][i] : self.offsets[kind][i + 1]]

    def sequence(self, i: int, chosen: bool) -> np.ndarray:
        """Prompt + chosen (or rejected) token ids of pair i."""
        return np.concatenate([self.part(0, i), self.part(1 if chosen else 2, i)])

    def lengths(self) -> np.ndarray:
        """Per pair, the longer of its two sequences (what a batch must be padded to)."""
        prompt = np.diff(self.offsets[0])
        return prompt + np.maximum(np.diff(self.offsets[1]), np.diff(self.offsets[2]))

    def select(self, indices: np.ndarray) -> EncodedPairs:
        """A new EncodedPairs holding only `indices` (in that order)."""
        tokens, offsets = [], []
        for kind in range(3):
            parts = [self.part(kind, int(i)) for i in indices]
            tokens.append(np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32))
            offsets.append(np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64))
        return EncodedPairs(tuple(tokens), tuple(offsets), [self.where[int(i)] for i in indices])

    def save(self, path: Path) -> None:
        """Write to an .npz cache (atomically)."""
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")  # one writer per process
        arrays = {f"tokens{k}": self.tokens[k] for k in range(3)}
        arrays |= {f"offsets{k}": self.offsets[k] for k in range(3)}
        np.savez(tmp, where=np.array(self.where, dtype=str), **arrays)  # no pickled objects
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> EncodedPairs:
        """Read an .npz cache written by `save`."""
        with np.load(path) as data:
            return cls(
                tuple(data[f"tokens{k}"] for k in range(3)),
                tuple(data[f"offsets{k}"] for k in range(3)),
                [str(w) for w in data["where"]],
            )


def iter_pair_source(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) from a JSONL/parquet file, or from a tfds array_record dataset dir written by our
    builder."""
    path = Path(path)
    if path.is_dir():
        from acecoder_jax.data.tfds_pairs import iter_array_record_pairs

        yield from iter_array_record_pairs(path)
        return
    yield from iter_rows(path)


def check_row(row: dict[str, Any], where: str) -> tuple[str, str, str, str] | tuple[str, str]:
    """(instruction, input, chosen, rejected) of a valid row, else (reason, message) naming file, row,
    field."""
    values = []
    for name in PAIR_FIELDS:
        if name not in row:
            if name == "input":  # alpaca rows may leave out an empty input
                values.append("")
                continue
            return "missing_field", f"{where}: missing field {name!r}"
        value = row[name]
        if value is None and name == "input":
            value = ""
        if not isinstance(value, str):
            return "bad_type", f"{where}: field {name!r} must be a string, got {type(value).__name__}"
        if name in ("instruction", "chosen", "rejected") and not value.strip():
            return "empty_field", f"{where}: field {name!r} is empty"
        values.append(value)
    return tuple(values)  # type: ignore[return-value]


def load_pairs(
    paths: str | Path | Iterable[str | Path],
    tokenizer: Any,
    max_length: int,
    *,
    truncation: Literal["none", "llamafactory"] = "none",
    on_bad_row: Literal["fail", "skip"] = "fail",
    system_prompt: str | None = None,
    cache_dir: Path | None = None,
) -> tuple[EncodedPairs, BadRowReport]:
    """Read, check and tokenize every pair; cached in `cache_dir` keyed by the inputs and settings."""
    paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    key = cache_key(paths, tokenizer, max_length, truncation, on_bad_row, system_prompt)
    cache = cache_dir / f"pairs-{key}.npz" if cache_dir is not None else None
    report_file = cache_dir / f"pairs-{key}.bad_rows.json" if cache_dir is not None else None
    if cache is not None and cache.is_file() and report_file is not None and report_file.is_file():
        saved = json.loads(report_file.read_text())
        report = BadRowReport(collections.Counter(saved["counts"]), saved["examples"])
        return EncodedPairs.load(cache), report
    report = BadRowReport()
    parts: list[list[np.ndarray]] = [[], [], []]
    where_kept: list[str] = []
    chunk: list[tuple[str, tuple[str, str, str, str]]] = []

    def flush() -> None:
        texts = [prompt_text(ins, inp, system_prompt) for _, (ins, inp, _, _) in chunk]
        texts += [response_text(c) for _, (_, _, c, _) in chunk]
        texts += [response_text(r) for _, (_, _, _, r) in chunk]
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        n = len(chunk)
        for i, (where, _) in enumerate(chunk):
            prompt, chosen, rejected = ids[i], ids[n + i], ids[2 * n + i]
            longest = max(len(chosen), len(rejected))
            if len(prompt) + longest > max_length:
                if truncation == "llamafactory":
                    keep_prompt, keep_response = llamafactory_lengths(len(prompt), longest, max_length)
                    prompt, chosen, rejected = (
                        prompt[:keep_prompt],
                        chosen[:keep_response],
                        rejected[:keep_response],
                    )
                else:
                    message = (
                        f"{where}: pair is {len(prompt) + longest} tokens (prompt {len(prompt)} + longest "
                        f"response {longest}), over data.max_length={max_length} "
                        "(set data.truncation=llamafactory "
                        "to truncate as the paper's LLaMA-Factory run did)"
                    )
                    _bad(report, on_bad_row, "over_long", message)
                    continue
            for kind, part in enumerate((prompt, chosen, rejected)):
                parts[kind].append(np.asarray(part, dtype=np.int32))
            where_kept.append(where)
        chunk.clear()

    for path in paths:
        for where, row in iter_pair_source(path):
            checked = check_row(row, where)
            if len(checked) == 2:
                _bad(report, on_bad_row, *checked)
                continue
            chunk.append((where, checked))  # type: ignore[arg-type]
            if len(chunk) >= _TOKENIZE_CHUNK:
                flush()
    if chunk:
        flush()
    tokens = tuple(np.concatenate(p) if p else np.zeros(0, np.int32) for p in parts)
    offsets = tuple(np.concatenate([[0], np.cumsum([len(x) for x in p])]).astype(np.int64) for p in parts)
    encoded = EncodedPairs(tokens, offsets, where_kept)  # type: ignore[arg-type]
    if cache is not None and report_file is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        encoded.save(cache)
        report_file.write_text(json.dumps({"counts": dict(report.counts), "examples": report.examples}))
    return encoded, report


def _bad(report: BadRowReport, on_bad_row: str, reason: str, message: str) -> None:
    reject_row(report, on_bad_row, reason, message, PairDataError)
