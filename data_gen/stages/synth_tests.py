"""synth-tests: rewrite each seed program into a LeetCode-style question with ~20 assert tests.

Prompts are the release's two templates (with the seed's instruction when it has one, else without); the
reply is parsed with the release's JSON repair. Unusable replies go to the `.rejected.jsonl` sidecar with
the reason and the raw reply, so a rerun does not pay for them again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from acecoder_jax.common.prompts import synthesis_chat
from acecoder_jax.common.schemas import parse_seed
from data_gen.backends.base import Chat, GenerationConfig
from data_gen.json_repair import parse_synthesis_reply
from data_gen.row_shards import WHOLE_INPUT, Shard
from data_gen.stages.generation_stage import GenerationStep, run_generation_stage
from data_gen.stages.streaming import OK, REJECTED, Item, Outcome, StageStats


@dataclasses.dataclass
class SynthOptions:
    """synth-tests settings beyond the backend's."""

    use_instruction: bool = True  # the with-instruction template when the seed has one (as released)


def run_synth_tests(
    input_path: str | Path,
    output_path: str | Path,
    generation: GenerationConfig,
    options: SynthOptions | None = None,
    *,
    shard: Shard = WHOLE_INPUT,
    progress: bool = True,
) -> StageStats:
    """Run the stage (on a Ray cluster when `generation.ray` is set); returns its counts."""
    options = options or SynthOptions()

    def chats(batch: list[Item]) -> list[Chat]:
        seeds = [parse_seed(row, where) for where, row in batch]
        return [synthesis_chat(s.program, s.instruction if options.use_instruction else None) for s in seeds]

    def outcomes(batch: list[Item], replies: list[list[str]]) -> list[list[Outcome]]:
        results = []
        for (_, row), reply_list in zip(batch, replies):
            reply = reply_list[0] if reply_list else ""
            parsed = parse_synthesis_reply(reply)
            if parsed.ok:
                out = {
                    **row,
                    "question": parsed.question,
                    "tests": parsed.tests,
                    "synth_repaired": parsed.repaired,
                }
                results.append([(OK, out)])
            else:
                results.append([(REJECTED, {**row, "reason": parsed.error, "reply": reply})])
        return results

    step = GenerationStep(chats, outcomes)
    return run_generation_stage(
        "synth-tests", input_path, output_path, generation, step, shard=shard, progress=progress
    )
