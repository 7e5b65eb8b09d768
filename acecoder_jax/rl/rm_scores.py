"""The reward model as an RL reward: AceCodeRM's score of (question, program), in its training format.

Each rollout's program (the last fenced block of its completion) is written as an AceCodePair response under
the pair instruction (question + first test), the chat the reward model was trained on, and scored on the
mesh in a few padded shapes (`acecoder_jax.rm.scoring`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from acecoder_jax.common.prompts import pair_instruction, pair_response, rm_chat
from acecoder_jax.rl.answer import answer_program
from acecoder_jax.rl.rewards import Sample


def make_rm_scores(
    path: str | Path, *, mesh: Any, dtype: str = "bfloat16", max_length: int = 4096, batch_size: int = 16
) -> Callable[[Sequence[Sample]], np.ndarray]:
    """samples -> [N] float32 reward-model scores, with the AceCodeRM checkpoint at `path`."""
    from transformers import AutoTokenizer

    from acecoder_jax.models import checkpoint_kind, from_pretrained
    from acecoder_jax.rm.scoring import chat_token_ids, score_token_ids

    if checkpoint_kind(path) != "reward":
        raise ValueError(f"reward.rm {str(path)!r} is a causal LM, not a reward model (no scalar head)")
    model = from_pretrained(path, dtype=dtype, param_dtype=dtype, mesh=mesh, kind="reward")
    tokenizer = AutoTokenizer.from_pretrained(str(path))

    def scores(samples: Sequence[Sample]) -> np.ndarray:
        rows = []
        for sample in samples:
            first_test = str(sample.tests[0]) if sample.tests else ""
            chat = rm_chat(
                pair_instruction(sample.prompt, first_test), pair_response(answer_program(sample.completion))
            )
            rows.append(chat_token_ids(tokenizer, chat, max_length))
        return np.asarray(score_token_ids(model, rows, batch_size=batch_size, mesh=mesh), np.float32)

    return scores
