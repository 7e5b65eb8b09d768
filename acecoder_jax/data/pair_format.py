"""How an AceCodePair row becomes the text the reward model scores (as the released AceCodeRM saw it).

AceCodeRM was trained with LLaMA-Factory's `qwen` template on alpaca-style rows: the user turn is
`instruction + "\n" + input` (input only when non-empty), the assistant turn is the chosen or rejected
response,
and the sequence ends `<|im_end|>\n`. That is exactly the Qwen2.5 ChatML chat template's rendering of
[user, assistant], which tests check against `tokenizer.apply_chat_template`.
"""

from __future__ import annotations

from typing import Any

# The Qwen2.5 chat template's default system message (used when a conversation has none).
QWEN25_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def user_content(instruction: str, input_text: str | None) -> str:
    """The user turn: instruction, then the optional input on the next line (LLaMA-Factory alpaca rule)."""
    return instruction + "\n" + input_text if input_text else instruction


def prompt_text(instruction: str, input_text: str | None, system: str | None = None) -> str:
    """ChatML text up to and including the assistant header."""
    system = QWEN25_DEFAULT_SYSTEM if system is None else system
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n"
        f"<|im_start|>user\n{user_content(instruction, input_text)}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def response_text(response: str) -> str:
    """The assistant turn's content plus the end-of-turn marker the template appends."""
    return response + "<|im_end|>\n"


def chat_messages(row: dict[str, Any], response_field: str) -> list[dict[str, str]]:
    """The row as chat messages (for `apply_chat_template` comparisons)."""
    return [
        {"role": "user", "content": user_content(row["instruction"], row.get("input"))},
        {"role": "assistant", "content": row[response_field]},
    ]


def llamafactory_lengths(source_len: int, target_len: int, cutoff_len: int) -> tuple[int, int]:
    """LLaMA-Factory's `infer_seqlen`: share `cutoff_len` between prompt and response when a pair is too long.

    A short response keeps all of itself and the prompt is cut; a short prompt keeps all of itself and the
    response is cut; otherwise both are cut in proportion to their lengths.
    """
    if target_len * 2 < cutoff_len:
        max_target_len = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target_len = cutoff_len - source_len
    else:
        max_target_len = int(cutoff_len * (target_len / (source_len + target_len)))
    new_target_len = min(max_target_len, target_len)
    new_source_len = min(max(cutoff_len - new_target_len, 0), source_len)
    return new_source_len, new_target_len
