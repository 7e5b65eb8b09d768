"""The world's problems as the project's data contracts: AceCode-87K rows, seed rows and SFT chat rows.

The SFT row is what the sampler sees and what it should answer: the user turn is the released sampling prompt
(question + first two tests, `acecoder sample`'s prompt) and the assistant turn is the reference in the
released answer format (the "Below is a Python script ..." prefill, then the fenced program), so a policy
trained on it continues the sample stage's prefill exactly as AceCoder's samplers do.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from acecoder_jax.common.prompts import Chat, pair_response, sampling_chat
from acecoder_jax.common.schemas import AceCodeRow, SeedRow
from acecoder_jax.world.problem import Problem

SOURCE = "world"


def acecode_row(problem: Problem) -> dict[str, Any]:
    """An AceCode-87K row (no inferences yet) plus `reference`, `family` and `params` (a JSON string)."""
    row = AceCodeRow(
        id=problem.id,
        source=SOURCE,
        question=problem.question,
        test_cases=list(problem.tests),
        inferences=[],
        context_messages=[{"content": problem.question, "role": "user"}],
    ).to_dict()
    # params as one JSON string: its keys differ by family, which a columnar reader cannot hold as a struct.
    return {**row, "reference": problem.reference, "family": problem.family, "params": params_key(problem)}


def seed_row(problem: Problem) -> dict[str, Any]:
    """A seed row for `synth-tests`: the question as the instruction, the reference as the program."""
    seed = SeedRow(id=problem.id, program=problem.reference, instruction=problem.question, source=SOURCE)
    return dataclasses.asdict(seed)


def sft_messages(problem: Problem) -> Chat:
    """The sampling prompt's user turn and the reference answer in the released answer format."""
    answer = {"role": "assistant", "content": pair_response(problem.reference)}
    return [*sampling_chat(problem.question, problem.tests), answer]


def sft_row(problem: Problem) -> dict[str, Any]:
    """An SFT row: `{id, messages}`."""
    return {"id": problem.id, "messages": sft_messages(problem)}


def params_key(problem: Problem) -> str:
    """The canonical text of a problem's params (sorted-key JSON)."""
    return json.dumps(problem.params, sort_keys=True)
