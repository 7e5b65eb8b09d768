"""The demo's RM train / held-out split of its AceCodePair rows: by question, so no question is in both."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

HELDOUT_EVERY = 5  # about one question in five holds its pairs out


def split_pairs(pairs: Path, out_dir: Path) -> tuple[int, int]:
    """Write out_dir/train.jsonl and out_dir/heldout.jsonl; returns their row counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = [0, 0]
    with (
        pairs.open(encoding="utf-8") as source,
        (out_dir / "train.jsonl").open("w", encoding="utf-8") as train,
        (out_dir / "heldout.jsonl").open("w", encoding="utf-8") as heldout,
    ):
        for line in source:
            if not line.strip():
                continue
            row = json.loads(line)
            held = zlib.crc32(str(row["question_id"]).encode()) % HELDOUT_EVERY == 0
            (heldout if held else train).write(json.dumps(row) + "\n")
            counts[held] += 1
    if not all(counts):
        raise ValueError(f"{pairs}: {counts[0]} train / {counts[1]} held-out pairs; the RM needs both")
    return counts[0], counts[1]
