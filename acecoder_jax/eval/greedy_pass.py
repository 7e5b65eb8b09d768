"""Greedy pass@1 of a policy on AceCode-format rows, judged by the executor.

Each question is prompted as RL and the sample stage prompt it (`acecoder_jax.rl.prompting`), decoded
greedily, and its program (the last fenced block of prefill + completion) run against the row's tests.
`pass_at_1` counts a question solved when every test passes; `pass_rate` is the mean fraction of tests passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from acecoder_jax.common.schemas import AceCodeRow
from acecoder_jax.rl.prompting import build_prompt
from acecoder_jax.rl.rewards import RuleReward, Sample
from acecoder_jax.sample import generate


def greedy_pass_at_1(
    model: Any,
    tokenizer: Any,
    rows: Sequence[AceCodeRow],
    *,
    executor: Any,
    max_new_tokens: int,
    eos_ids: Sequence[int],
    prompt_style: str = "chat",
    mesh: Any = None,
    batch_size: int | None = None,
) -> dict[str, float]:
    """{"pass_at_1", "pass_rate", "problems"} of greedy completions of `rows` (see the module docstring)."""
    if not rows:
        return {"pass_at_1": 0.0, "pass_rate": 0.0, "problems": 0.0}
    prompts = [build_prompt(tokenizer, row.question, row.test_cases, prompt_style) for row in rows]
    out = generate(
        model,
        [p.token_ids for p in prompts],
        max_new_tokens=max_new_tokens,
        temperature=0.0,
        eos_ids=eos_ids,
        mesh=mesh,
        batch_size=batch_size,
    )
    texts = [tokenizer.decode(tokens, skip_special_tokens=True) for tokens in out.tokens]
    samples = [
        Sample(str(row.id), "", prompt.response_prefix + text, tuple(row.test_cases))
        for row, prompt, text in zip(rows, prompts, texts)
    ]
    reward = RuleReward(executor, mode="pass_rate")
    try:
        rates = reward.score(samples).pass_rates
    finally:
        reward.close()
    return {
        "pass_at_1": float(np.mean(rates == 1.0)),
        "pass_rate": float(np.mean(rates)),
        "problems": float(len(rows)),
    }
