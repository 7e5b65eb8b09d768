"""The program an RL rollout answers with: reasoning stripped, the last fenced block taken.

As the AceCoder RL fork's rule-reward server does: `<think>...</think>` is removed, an `<answer>` section is
preferred when present (the R1-style template), and the code is the last fenced block (a rollout that
drafts and then corrects itself is judged on its final program). Without a fence the whole answer is code.
"""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+\-.]*)[ \t]*\r?\n(.*?)(?:```|$)", re.DOTALL)
_R1_FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL)


def answer_program(completion: str) -> str:
    """The program of a completion (see the module docstring); surrounding blank lines dropped."""
    text = _THINK.sub("", completion)
    if "<think>" in text:  # an unclosed reasoning section: nothing after it is an answer
        text = text[: text.index("<think>")]
    answer = _ANSWER.search(text)
    if answer:
        text = answer.group(1)
    blocks = _FENCE.findall(text)
    if blocks:
        python = [body for language, body in blocks if language.lower() in ("python", "py", "python3", "")]
        text = (python or [body for _, body in blocks])[-1]
    return text.strip("\n").rstrip()


def follows_r1_format(completion: str) -> bool:
    """`<think> ... </think> <answer> ... </answer>` and nothing else around them."""
    return bool(_R1_FORMAT.match(completion))
