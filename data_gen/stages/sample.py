"""sample: N programs per question from the policy model with the release's sampling prompt.

Prompt: the question plus its first two tests (the release showed the first two of the synthesized tests,
before filtering: `prompt_tests="original"`; `"kept"` shows the first two tests that survived the filter),
and the assistant prefill "Below is a Python script ..." + an open ```python fence that the reply continues.
Paper settings: Qwen2.5-Coder-7B-Instruct, n=16, temperature 0.7, top_p 1.0, max_tokens 1024.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from acecoder_jax.common.code_extract import released_post_process
from acecoder_jax.common.prompts import SAMPLING_PREFILL, sampling_chat
from data_gen.backends.base import Chat, GenerationConfig
from data_gen.row_shards import WHOLE_INPUT, Shard
from data_gen.stages.filter_tests import oracle_program
from data_gen.stages.generation_stage import GenerationStep, run_generation_stage
from data_gen.stages.streaming import OK, Item, Outcome, StageStats
from executor.jsonl import require_field


@dataclasses.dataclass
class SampleOptions:
    """Prompt and post-processing choices of the sample stage."""

    prompt_tests: Literal["original", "kept"] = (
        "original"  # which tests the prompt shows (released: original)
    )
    # fence: extract_code(prefill + reply); released: the release's eval_post_process (cuts at "assert" too)
    postprocess: Literal["fence", "released"] = "fence"
    model_name: str | None = None  # the `model_name` recorded for each sample; default: the backend's model
    keep_raw: bool = False  # also store the raw reply of every sample


def program_from_reply(reply: str, postprocess: str) -> str:
    """The program a sampled reply holds, by the chosen post-processing rule."""
    if postprocess == "released":
        return released_post_process(reply)
    return oracle_program(reply)


def run_sample(
    input_path: str | Path,
    output_path: str | Path,
    generation: GenerationConfig,
    options: SampleOptions | None = None,
    *,
    shard: Shard = WHOLE_INPUT,
    progress: bool = True,
) -> StageStats:
    """Run the stage (on a Ray cluster when `generation.ray` is set); returns its counts."""
    options = options or SampleOptions()
    model_name = options.model_name or generation.model

    def chats(batch: list[Item]) -> list[Chat]:
        out = []
        for where, row in batch:
            question = require_field(row, "question", str, where)
            tests = require_field(row, "tests", list, where)
            shown = row.get("original_tests") if options.prompt_tests == "original" else None
            out.append(sampling_chat(question, shown if isinstance(shown, list) else tests))
        return out

    def outcomes(batch: list[Item], replies: list[list[str]]) -> list[list[Outcome]]:
        results = []
        for (_, row), reply_list in zip(batch, replies):
            samples = []
            for index, reply in enumerate(reply_list):
                sample = {
                    "completion_id": index,
                    "completion": program_from_reply(reply, options.postprocess),
                }
                if options.keep_raw:
                    sample["raw"] = reply
                samples.append(sample)
            results.append([(OK, {**row, "model_name": model_name, "samples": samples})])
        return results

    step = GenerationStep(chats, outcomes, prefill=SAMPLING_PREFILL)
    return run_generation_stage(
        "sample", input_path, output_path, generation, step, shard=shard, progress=progress
    )
