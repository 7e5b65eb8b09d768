"""Load SFT rows (JSONL or parquet), check them, format them with the chat template and tokenize them once.

Each (text, trained) segment of `chat_segments` is tokenized on its own and the ids are concatenated, so the
prompt's ids are exactly what the tokenizer gives for the prompt at generation time; the loss mask is 1 on
the ids of trained segments. Truncation (`max_length` counts every token):
- "none": a row longer than max_length is a bad row (failed or skipped and counted, per `on_bad_row`);
- "left": keep the last max_length tokens. The end of the answer, its `<|im_end|>` included, always survives;
  the start of the prompt (the system turn first) is dropped, and the answer's own start only when the answer
  alone is longer than max_length. A row left with no trained token is a bad row.
Results are cached in `cache_dir` keyed by the files, the tokenizer and these settings.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from acecoder_jax.common.prompts import Chat
from acecoder_jax.common.rows import iter_rows
from acecoder_jax.data.bad_rows import BadRowReport, cache_key, reject_row
from acecoder_jax.data.sft_encoded import EncodedSequences
from acecoder_jax.data.sft_format import chat_segments
from acecoder_jax.data.sft_rows import check_sft_row

Truncation = Literal["none", "left"]
_TOKENIZE_CHUNK = 1024  # rows per fast-tokenizer batch call


class SFTDataError(ValueError):
    """An SFT row that cannot be trained on; the message names the file, row and field."""


def encode_chats(tokenizer: Any, chats: list[Chat]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(ids int32, loss mask uint8) of each chat, untruncated."""
    per_chat = [chat_segments(tokenizer, chat) for chat in chats]
    texts = [text for segments in per_chat for text, _ in segments]
    ids = iter(tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else [])
    encoded = []
    for segments in per_chat:
        parts = [(next(ids), trained) for _, trained in segments]
        tokens = np.array([t for part, _ in parts for t in part], np.int32)
        mask = np.array([trained for part, trained in parts for _ in part], np.uint8)
        encoded.append((tokens, mask))
    return encoded


def load_sft(
    paths: str | Path | Iterable[str | Path],
    tokenizer: Any,
    max_length: int,
    *,
    truncation: Truncation = "none",
    on_bad_row: Literal["fail", "skip"] = "fail",
    cache_dir: Path | None = None,
) -> tuple[EncodedSequences, BadRowReport]:
    """Read, check, format and tokenize every row; cached in `cache_dir` keyed by the inputs and settings."""
    if truncation not in ("none", "left"):
        raise ValueError(f"truncation must be 'none' or 'left', got {truncation!r}")
    paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    key = cache_key(paths, tokenizer, max_length, truncation, on_bad_row, "sft")
    cache = cache_dir / f"sft-{key}.npz" if cache_dir is not None else None
    report_file = cache_dir / f"sft-{key}.bad_rows.json" if cache_dir is not None else None
    if cache is not None and cache.is_file() and report_file is not None and report_file.is_file():
        saved = json.loads(report_file.read_text())
        return EncodedSequences.load(cache), BadRowReport(
            collections.Counter(saved["counts"]), saved["examples"]
        )
    report = BadRowReport()
    kept_ids: list[np.ndarray] = []
    kept_masks: list[np.ndarray] = []
    kept_where: list[str] = []
    chunk: list[tuple[str, Chat]] = []

    def flush() -> None:
        for (where, _), (ids, mask) in zip(chunk, encode_chats(tokenizer, [chat for _, chat in chunk])):
            if len(ids) > max_length:
                if truncation == "none":
                    message = (
                        f"{where}: row is {len(ids)} tokens, over data.max_length={max_length} "
                        "(set data.truncation=left to keep its last max_length tokens)"
                    )
                    reject_row(report, on_bad_row, "over_long", message, SFTDataError)
                    continue
                ids, mask = ids[-max_length:], mask[-max_length:]
            if not mask.any():
                reject_row(
                    report, on_bad_row, "no_loss_tokens", f"{where}: no trained token left", SFTDataError
                )
                continue
            kept_ids.append(ids)
            kept_masks.append(mask)
            kept_where.append(where)
        chunk.clear()

    for path in paths:
        for where, row in iter_rows(path):
            checked = check_sft_row(row, where)
            if isinstance(checked, tuple):
                reject_row(report, on_bad_row, *checked, SFTDataError)
                continue
            chunk.append((where, checked))
            if len(chunk) >= _TOKENIZE_CHUNK:
                flush()
    if chunk:
        flush()
    encoded = EncodedSequences.from_rows(kept_ids, kept_masks, kept_where)
    if cache is not None and report_file is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        encoded.save(cache)
        report_file.write_text(json.dumps({"counts": dict(report.counts), "examples": report.examples}))
    return encoded, report
