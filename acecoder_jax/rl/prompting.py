"""How an RL prompt is written for a question, and which text the reward judges.

- `chat` (instruct policies, as AceCoder samples): the tokenizer's chat template over the sampling prompt
  (question + first tests), with the released assistant prefill ending in an open python fence; the policy
  continues the program. The reward judges prefill + completion.
- `r1` (base policies, R1-Zero style as in AceCoder's RL-from-base run): plain text asking for reasoning in
  `<think>` and the program in `<answer>`; the prompt ends with `<think>`, so the completion continues the
  reasoning. The reward judges `<think>` + completion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from acecoder_jax.common.prompts import SAMPLING_PREFILL, sampling_chat, sampling_instruction

STYLES = ("chat", "r1")
R1_TEMPLATE = (
    "A conversation between User and Assistant. The User asks a question, and the Assistant solves it. The "
    "Assistant first thinks about the reasoning process in the mind and then provides the User with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
    "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. The "
    "answer is a self-contained Python script in a markdown code block.\nUser: {request}\nAssistant: <think>"
)


@dataclass(frozen=True)
class Prompt:
    """A question's prompt: its token ids, and the text the completion continues (for the reward)."""

    token_ids: tuple[int, ...]
    response_prefix: str


def build_prompt(tokenizer: Any, question: str, tests: Sequence[str], style: str = "chat") -> Prompt:
    """The prompt of one question in `style` (see the module docstring)."""
    if style == "chat":
        text = tokenizer.apply_chat_template(
            sampling_chat(question, tests), tokenize=False, add_generation_prompt=True
        )
        text += SAMPLING_PREFILL
        return Prompt(tuple(tokenizer.encode(text, add_special_tokens=False)), SAMPLING_PREFILL)
    if style == "r1":
        text = R1_TEMPLATE.format(request=sampling_instruction(question, tests).strip())
        return Prompt(tuple(tokenizer.encode(text, add_special_tokens=False)), "<think>")
    raise ValueError(f"prompt style must be one of {STYLES}, got {style!r}")
