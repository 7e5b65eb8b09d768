"""SFT rows (read by `common.rows.iter_rows`) -> chats: `{"messages": [{role, content}, ...]}` (the chat
format transformers and TRL use) or `{"prompt", "completion"}`.

`prompt` and `completion` are each a string or a list of messages; a string prompt is one user turn and a
string completion one assistant turn (so both formats go through the tokenizer's chat template). A row must
hold at least one assistant turn with non-empty content, and must not open with one (an assistant turn is
trained on what comes before it). Every error names the file, row and field.
"""

from __future__ import annotations

from typing import Any

from acecoder_jax.common.prompts import Chat

ROLES = ("system", "user", "assistant")


def check_sft_row(row: dict[str, Any], where: str) -> Chat | tuple[str, str]:
    """The row's chat, or (reason, message) naming file, row and field."""
    has_messages = "messages" in row
    has_pair = "prompt" in row or "completion" in row
    if has_messages and has_pair:
        return "ambiguous", f"{where}: has both 'messages' and 'prompt'/'completion'; use one format"
    if has_messages:
        chat = _messages(row["messages"], f"{where}: field 'messages'", None)
    elif has_pair:
        missing = [name for name in ("prompt", "completion") if name not in row]
        if missing:
            return "missing_field", f"{where}: missing field {missing[0]!r}"
        prompt = _messages(row["prompt"], f"{where}: field 'prompt'", "user")
        if isinstance(prompt, tuple):
            return prompt
        completion = _messages(row["completion"], f"{where}: field 'completion'", "assistant")
        if isinstance(completion, tuple):
            return completion
        chat = [*prompt, *completion]
    else:
        return "missing_field", f"{where}: missing field 'messages' (or 'prompt' and 'completion')"
    if isinstance(chat, tuple):
        return chat
    return _check_turns(chat, where)


def _messages(value: Any, where: str, string_role: str | None) -> Chat | tuple[str, str]:
    """A list of {role, content} messages; a plain string becomes one `string_role` message where allowed."""
    if isinstance(value, str) and string_role is not None:
        return [{"role": string_role, "content": value}]
    if not isinstance(value, list):
        expected = "a string or a list of messages" if string_role else "a list of messages"
        return "bad_type", f"{where} must be {expected}, got {type(value).__name__}"
    chat = []
    for index, message in enumerate(value):
        if not isinstance(message, dict):
            return "bad_type", f"{where}[{index}] must be an object, got {type(message).__name__}"
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            return "bad_role", f"{where}[{index}].role must be one of {list(ROLES)}, got {role!r}"
        if not isinstance(content, str):
            return "bad_type", f"{where}[{index}].content must be a string, got {type(content).__name__}"
        chat.append({"role": role, "content": content})
    return chat


def _check_turns(chat: Chat, where: str) -> Chat | tuple[str, str]:
    if not any(m["role"] == "assistant" and m["content"].strip() for m in chat):
        return "no_assistant", f"{where}: no assistant turn with content (nothing to train on)"
    if chat[0]["role"] == "assistant":
        return (
            "assistant_first",
            f"{where}: the first message is an assistant turn; it needs a prompt before it",
        )
    return chat
