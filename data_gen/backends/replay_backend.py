"""Replies recorded earlier (e.g. from GPT-4o-mini), served from a JSONL file instead of a live model.

Each line is `{"match": TEXT, "replies": [str, ...]}` (or `"reply": str`): a chat gets the replies of the
first line whose `match` occurs in its last user message. The tiny CPU config uses it for test synthesis,
which a random tiny model cannot do; it also replays a paid API run without paying again.
"""

from __future__ import annotations

from collections.abc import Sequence

from data_gen.backends.base import Backend, Chat, GenerationConfig, GenerationError, Sampling
from executor.jsonl import JsonlError, iter_jsonl, require_field


class ReplayBackend(Backend):
    """Look replies up by substring of the last user message."""

    name = "replay"

    def __init__(self, config: GenerationConfig) -> None:
        super().__init__(config)
        if not config.replay_file:
            raise GenerationError("replay backend: no --replay-file given")
        self.entries: list[tuple[str, list[str]]] = []
        try:
            for line, row in iter_jsonl(config.replay_file):
                where = f"{config.replay_file}:{line}"
                match = require_field(row, "match", str, where)
                replies = row["replies"] if "replies" in row else [require_field(row, "reply", str, where)]
                if not isinstance(replies, list) or not all(isinstance(r, str) for r in replies):
                    raise JsonlError(f"{where}: field 'replies' must be a list of strings")
                self.entries.append((match, replies))
        except FileNotFoundError as err:
            raise GenerationError(f"replay backend: {config.replay_file}: no such file") from err
        self.served = 0

    def _generate(self, chats: Sequence[Chat], sampling: Sampling, prefill: str | None) -> list[list[str]]:
        """The recorded replies of each chat, repeated or cut to `n`."""
        out = []
        for chat in chats:
            user = next((m["content"] for m in reversed(chat) if m["role"] == "user"), "")
            replies = next((r for match, r in self.entries if match in user), None)
            if replies is None:
                raise GenerationError(
                    f"replay backend: {self.config.replay_file} has no reply for {user[:200]!r}"
                )
            self.served += 1
            out.append([replies[i % len(replies)] for i in range(sampling.n)])
        return out

    def usage_summary(self) -> str:
        """How many chats were served."""
        return f"replay {self.config.replay_file}: {self.served} chats served"
