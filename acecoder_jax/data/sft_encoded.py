"""`EncodedSequences`: tokenized SFT rows in flat arrays (ids, loss mask, offsets); batching only slices."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np


@dataclasses.dataclass
class EncodedSequences:
    """Row i is `tokens[offsets[i]:offsets[i+1]]`; `loss_mask` (same layout) is 1 on trained tokens."""

    tokens: np.ndarray  # int32
    loss_mask: np.ndarray  # uint8
    offsets: np.ndarray  # int64, len(rows) + 1
    where: list[str]  # file:row of each sequence, for messages

    def __len__(self) -> int:
        return len(self.where)

    def ids(self, i: int) -> np.ndarray:
        """Token ids of row i."""
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]

    def mask(self, i: int) -> np.ndarray:
        """Loss mask of row i."""
        return self.loss_mask[self.offsets[i] : self.offsets[i + 1]]

    def lengths(self) -> np.ndarray:
        """Tokens per row."""
        return np.diff(self.offsets)

    def loss_tokens(self) -> np.ndarray:
        """Trained tokens per row."""
        return (
            np.add.reduceat(self.loss_mask.astype(np.int64), self.offsets[:-1]) if len(self) else np.zeros(0)
        )

    @classmethod
    def from_rows(cls, ids: list[np.ndarray], masks: list[np.ndarray], where: list[str]) -> EncodedSequences:
        """Pack per-row arrays."""
        offsets = np.concatenate([[0], np.cumsum([len(x) for x in ids])]).astype(np.int64)
        tokens = np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, np.int32)
        loss_mask = np.concatenate(masks).astype(np.uint8) if masks else np.zeros(0, np.uint8)
        return cls(tokens, loss_mask, offsets, list(where))

    def select(self, indices: np.ndarray) -> EncodedSequences:
        """A new EncodedSequences holding only `indices` (in that order)."""
        rows = [int(i) for i in indices]
        return EncodedSequences.from_rows(
            [self.ids(i) for i in rows], [self.mask(i) for i in rows], [self.where[i] for i in rows]
        )

    def save(self, path: Path) -> None:
        """Write to an .npz cache (atomically)."""
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")  # one writer per process
        np.savez(
            tmp,
            tokens=self.tokens,
            loss_mask=self.loss_mask,
            offsets=self.offsets,
            where=np.array(self.where, dtype=str),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> EncodedSequences:
        """Read an .npz cache written by `save`."""
        with np.load(path) as data:
            return cls(data["tokens"], data["loss_mask"], data["offsets"], [str(w) for w in data["where"]])
