"""Get the Python program out of a model reply (markdown, a bare program, or a continuation of a prefill).

`extract_code` is the project's one extraction rule (data_gen sample/score, best-of-N eval, RL rewards).
`released_post_process` reproduces the AceCoder release's `eval_post_process` exactly, for runs that must
match the released AceCode-87K completions.
"""

from __future__ import annotations

import re

# An opening fence: ``` plus an optional language tag, then the end of the line.
_OPEN_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+\-.]*)[ \t]*\r?\n")
_PYTHON_TAGS = {"python", "py", "python3", "py3"}
_CLOSE_FENCE = "```"


def extract_code(text: str) -> str:
    """Return the Python program in `text`.

    Rules, in order: the first fenced block tagged python/py; else the first fenced block of any language
    (an unclosed block runs to the end of the text); else the text before a stray fence; else the whole
    text. The result loses surrounding blank lines and trailing spaces but keeps its indentation. A reply
    that continues a prefill ending in an open fence is extracted with `extract_code(prefill + reply)`.
    """
    blocks = _fenced_blocks(text)
    first_fence = text.find(_CLOSE_FENCE)
    for language, body in blocks:
        if language.lower() in _PYTHON_TAGS:
            return _tidy(body)
    if blocks:
        return _tidy(blocks[0][1])
    if first_fence >= 0:
        return _tidy(text[:first_fence])
    return _tidy(text)


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) for each fenced block, in order; an unclosed last block runs to the end."""
    blocks = []
    position = 0
    while True:
        match = _OPEN_FENCE.search(text, position)
        if match is None:
            return blocks
        end = text.find(_CLOSE_FENCE, match.end())
        if end < 0:
            blocks.append((match.group(1), text[match.end() :]))
            return blocks
        blocks.append((match.group(1), text[match.end() : end]))
        position = end + len(_CLOSE_FENCE)


def _tidy(code: str) -> str:
    lines = code.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(line.rstrip() for line in lines)


def released_post_process(text: str) -> str:
    """AceCoder's `eval_post_process` (data/inference/post_process_functions.py), reproduced exactly.

    Drops a leading "python"/"markdown" tag left by the prefill, then cuts at the first of ```, "import
    unittest", "from unittest", "if __name__" or "assert" found after position 0 (so an `assert` inside the
    function body also cuts it: a quirk of the release).
    """
    for marker in ("python", "markdown\n```python", "markdown\n```", "markdown"):
        if text.startswith(marker):
            text = text[len(marker) :]
            break
    cuts = [
        text.find(token) for token in ("```", "import unittest", "from unittest", "if __name__", "assert")
    ]
    cuts = [index for index in cuts if index > 0]
    return text[: min(cuts)] if cuts else text
