"""Stop strings: find where a row's generated text first contains one, at token granularity.

The decode loop runs in chunks; between chunks the host decodes each live row's text and asks this module
whether a stop string has appeared in the newly generated tail. The answer is the number of tokens to keep:
the row ends with the token that completes the stop string (as vLLM's `include_stop_str_in_output`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class StopChecker:
    """Decode-time stop-string check on the tail of each row, through the tokenizer."""

    def __init__(self, stop: Sequence[str], tokenizer: Any) -> None:
        if tokenizer is None:
            raise ValueError("stop strings need a tokenizer (pass tokenizer=...) to read generated text")
        stop = [s for s in stop if s]
        if not stop:
            raise ValueError("stop strings must be non-empty")
        self.stop = tuple(stop)
        self.tokenizer = tokenizer
        self._longest = max(len(s) for s in self.stop)

    def _text(self, tokens: Sequence[int]) -> str:
        return self.tokenizer.decode(list(tokens), skip_special_tokens=False)

    def find(self, tokens: Sequence[int], checked_chars: int) -> tuple[int | None, int]:
        """Return (tokens to keep or None, chars of text checked) for one row's generated tokens.

        `checked_chars` is the text length already checked in an earlier chunk: only text from a little before
        it is searched (a stop string may straddle the chunk boundary), so each chunk costs one decode.
        """
        text = self._text(tokens)
        start = max(0, checked_chars - self._longest + 1)
        if not any(s in text[start:] for s in self.stop):
            return None, len(text)
        # Smallest prefix whose text holds a stop string: binary search (containment grows with the prefix).
        low, high = 1, len(tokens)
        while low < high:
            middle = (low + high) // 2
            if self._contains(tokens[:middle]):
                high = middle
            else:
                low = middle + 1
        return low, len(text)

    def _contains(self, tokens: Sequence[int]) -> bool:
        text = self._text(tokens)
        return any(s in text for s in self.stop)
