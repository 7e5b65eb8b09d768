"""The synthesis replies the demo's local OpenAI-compatible server serves, derived from the policy world.

A real run asks GPT-4o-mini to rewrite each seed program into a question with ~20 asserts; some of its asserts
are wrong, and filter-tests drops them. For the world the demo derives that reply deterministically: the
world's question, its 8 asserts (the first two stay first, so `acecoder sample` shows the policy the prompt
it was SFT'd on) and a few asserts whose expected value is perturbed. Every `WEAK_EVERY`-th seed gets so many
wrong asserts that fewer than 5 survive, so filter-tests drops whole questions too.
"""

from __future__ import annotations

import ast
import json
import zlib
from collections.abc import Iterable
from typing import Any

WRONG_PER_SEED = 2  # ~10 asserts per reply, 2 of them wrong
WEAK_EVERY = 10  # every 10th seed: 4 of its 8 asserts wrong as well, so the question keeps < 5 tests
WEAK_WRONG = 4


def perturb(value: Any) -> Any:
    """A different value of the same type: what a synthesis model gets wrong in an expected value."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x" if value else "x"
    if isinstance(value, list):
        return value[:-1] if value else [0]
    if isinstance(value, tuple):
        return (*value, 0)
    return None if value is not None else 0


def wrong_assert(test: str) -> str:
    """`assert CALL == EXPECTED` with EXPECTED perturbed."""
    node = ast.parse(test).body[0]
    if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1):
        raise ValueError(f"not an `assert CALL == EXPECTED` test: {test!r}")
    call = ast.unparse(node.test.left)
    expected = ast.literal_eval(node.test.comparators[0])
    return f"assert {call} == {perturb(expected)!r}"


def synthesis_reply(row: dict[str, Any]) -> str:
    """The JSON reply for one world row (AceCode-87K fields `id`, `question`, `test_cases`)."""
    tests = list(row["test_cases"])
    salt = zlib.crc32(str(row["id"]).encode())
    weak = salt % WEAK_EVERY == 0
    corrupt = WEAK_WRONG if weak else 0
    # Corrupt some of the world's own asserts (never the first two, which the sampling prompt shows) ...
    for offset in range(corrupt):
        index = 2 + (salt + offset) % (len(tests) - 2)
        while tests[index] != row["test_cases"][index]:
            index = 2 + (index - 1) % (len(tests) - 2)
        tests[index] = wrong_assert(tests[index])
    # ... and add wrong ones the way a model adds extra cases, spread over the tail.
    for offset in range(WRONG_PER_SEED):
        source = row["test_cases"][(salt + offset) % len(row["test_cases"])]
        tests.insert(2 + (salt // 7 + 3 * offset) % (len(tests) - 1), wrong_assert(source))
    return "```json\n" + json.dumps({"question": row["question"], "tests": tests}, indent=2) + "\n```"


def recorded_replies(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """reference program -> synthesis reply, for every world row with a reference."""
    return {row["reference"]: synthesis_reply(row) for row in rows}
