"""`--shard i/n`: deterministic split of work by a stable hash of the row id (same on every host)."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any


@dataclasses.dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0-based)."""

    index: int = 0
    count: int = 1

    def owns(self, row_id: Any) -> bool:
        """True when the row with this id belongs to this shard."""
        return self.count == 1 or shard_of(row_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE_INPUT = Shard()  # the default: no sharding


def shard_of(row_id: Any, count: int) -> int:
    """The shard (0..count-1) of a row id; sha256 of str(id), so it never depends on PYTHONHASHSEED."""
    digest = hashlib.sha256(str(row_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(text: str | None) -> Shard:
    """Parse `i/n` (0 <= i < n); None or empty means the whole input."""
    if not text:
        return Shard()
    index_text, sep, count_text = text.partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected i/n with integers, e.g. 0/4") from None
    if not sep or count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text!r}: expected i/n with 0 <= i < n")
    return Shard(index, count)
