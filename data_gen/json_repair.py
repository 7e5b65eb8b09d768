"""Parse the synthesis model's JSON reply the way the AceCoder release does, and say why when it cannot.

`parse_incomplete_json` reproduces data/training_dataset/util.py of the release: take the ```json fenced
part if any, try it whole, else assume the reply was cut before its closing `]}` and retry on ever shorter
prefixes with `]}` appended. `parse_synthesis_reply` adds the checks the release left implicit.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from executor.jsonl import JsonlError, JsonLimitError, loads_json

UNPARSEABLE: dict[str, Any] = {"question": None, "tests": None}


def parse_incomplete_json(text: str) -> Any:
    """The release's JSON repair: fenced json, whole text, then prefixes + ']}'; UNPARSEABLE when all fail."""
    text = _unfence(text)
    # Assume a reply cut by max_tokens: close the tests list and the object, dropping the torn tail. Text
    # past the parser's limits (nesting, integer digits) is not a cut reply: no prefix would parse.
    cuts = (text[:end] + "]}" for end in range(len(text), 0, -1))
    for attempt in itertools.chain([text], cuts):
        try:
            return loads_json(attempt, "reply")
        except JsonLimitError:
            break
        except JsonlError:
            continue
    return dict(UNPARSEABLE)


@dataclasses.dataclass(frozen=True)
class SynthesisReply:
    """A parsed synthesis reply: question and tests, or the reason it is unusable."""

    question: str | None
    tests: list[str]
    error: str | None = None
    repaired: bool = False  # the reply only parsed after the truncation repair

    @property
    def ok(self) -> bool:
        """True when the reply gave a question and at least one test."""
        return self.error is None


def parse_synthesis_reply(text: str) -> SynthesisReply:
    """Parse `{"question": ..., "tests": [...]}` from a reply; non-string tests are dropped."""
    if not text.strip():
        return SynthesisReply(None, [], "empty reply")
    parsed = parse_incomplete_json(text)
    repaired = not _parses_whole(text)
    if not isinstance(parsed, dict):
        return SynthesisReply(None, [], f"reply JSON is a {type(parsed).__name__}, not an object")
    question, tests = parsed.get("question"), parsed.get("tests")
    if question is None and tests is None and set(parsed) <= {"question", "tests"}:
        return SynthesisReply(None, [], "no parseable JSON in reply")
    if not isinstance(question, str) or not question.strip():
        return SynthesisReply(None, [], "reply JSON has no string 'question'")
    if not isinstance(tests, list):
        return SynthesisReply(question, [], "reply JSON has no 'tests' list")
    kept = [t for t in tests if isinstance(t, str) and t.strip()]
    if not kept:
        return SynthesisReply(question, [], "reply JSON has no string tests")
    return SynthesisReply(question, kept, None, repaired)


def _unfence(text: str) -> str:
    # As released: from after the first ```json to the last ``` (either may be missing).
    text = text.strip()
    left = text.find("```json")
    if left >= 0:
        text = text[left + 7 :]
    right = text.rfind("```")
    if right >= 0:
        text = text[:right]
    return text


def _parses_whole(text: str) -> bool:
    try:
        loads_json(_unfence(text), "reply")
    except JsonlError:
        return False
    return True
