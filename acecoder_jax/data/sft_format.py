"""How a chat becomes SFT text: the tokenizer's chat template, cut into prompt and assistant segments.

Which tokens carry the loss: each assistant turn as the template renders it after the generation prompt,
without trailing whitespace. For ChatML (Qwen2.5) that is the turn's content plus its closing `<|im_end|>`;
the role header `<|im_start|>assistant\\n` before it and the newline after it are prompt. Every assistant turn
of a multi-turn chat is trained on (as TRL's `assistant_only_loss`).

How it is found: the template renders chat[:i] with the generation prompt and chat[:i + 1] without; the
assistant text is what the second adds to the first. A template for which chat[:i + 1] is not a prefix of the
whole chat (e.g. one that rewrites earlier turns) is refused by name.
"""

from __future__ import annotations

from typing import Any

from acecoder_jax.common.prompts import Chat

Segment = tuple[str, bool]  # (text, is the text trained on)


class ChatTemplateError(ValueError):
    """A chat template whose rendering of assistant turns cannot be cut out of the whole chat."""


def render(tokenizer: Any, chat: Chat, generation_prompt: bool = False) -> str:
    """The chat as the tokenizer's chat template writes it (text, not ids)."""
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=generation_prompt)


def chat_segments(tokenizer: Any, chat: Chat) -> list[Segment]:
    """The rendered chat as consecutive (text, trained) segments; joined they are exactly `render(chat)`."""
    full = render(tokenizer, chat)
    segments: list[Segment] = []
    position = 0
    for index, message in enumerate(chat):
        if message["role"] != "assistant":
            continue
        before = render(tokenizer, chat[:index], generation_prompt=True)
        through = render(tokenizer, chat[: index + 1])
        if not (through.startswith(before) and full.startswith(through) and len(before) >= position):
            raise ChatTemplateError(
                f"chat template of {getattr(tokenizer, 'name_or_path', 'the tokenizer')!r}: assistant turn "
                f"{index} does not render as an addition to the turns before it"
            )
        end = len(through.rstrip())
        if len(before) > position:
            segments.append((full[position : len(before)], False))
        segments.append((full[len(before) : end], True))
        position = end
    if position < len(full):
        segments.append((full[position:], False))
    return segments
